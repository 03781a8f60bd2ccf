// Package process applies a model description's pre- and postprocessing
// (format §8) the way bioimageio.core does, so that published models
// reproduce their test outputs.
//
// # Use
//
//	p, err := process.NewPipeline(model)      // compile and check every step
//	in, err := p.Preprocess(rawInputs)        // statistics of the raw inputs, then each input's chain
//	… run the model on in …
//	out, err := p.Postprocess(rawOutputs, in) // statistics of the raw outputs, then each output's chain
//
// Samples map tensor ids to tensors whose Axes are the description's axis
// ids in the description's order.
//
// # Statistics
//
// Every statistic a chain needs is computed once, before the chain's first
// step, from the unprocessed tensors: the raw inputs for preprocessing; the
// raw model outputs, and the preprocessed inputs for reference tensors
// naming an input, for postprocessing. In [scale_linear,
// zero_mean_unit_variance] the mean and std are those of the raw input,
// not of the scaled one (core's behaviour, §18.5).
//
// A statistic over axes reduces those axes and keeps one value per
// combination of the others (axes [y, x] of (batch, channel, y, x): one
// value per batch×channel), broadcast back by axis name. Its scope is
// dataset when the axes are null or contain batch, else sample;
// scale_mean_variance with null axes is per sample over all axes. Dataset
// statistics are running statistics over every sample Preprocess (or
// Postprocess) has seen, the current one included, unless
// UseFixedDatasetStats fixed them. With a single sample they equal the
// sample's statistics over the same axes.
//
// Mean and std are float64, population std (divide by N); dataset mean and
// std merge samples exactly (stats.go). Sample quantiles follow numpy: the
// linear method for scale_range, inverted_cdf for clip (quantile.go).
// Dataset quantiles are the reference's approximation: the per-sample
// linear quantiles averaged, weighted by the number of reduced elements —
// also for clip, as in core.
//
// # Ops
//
// Formulas are in ops.go. Results are computed per element in float64 and
// stored as float32 (float64 if the op's input is float64; bool for
// binarize); ensure_dtype casts with numpy's astype rules.
//
// # Deliberate differences from bioimageio.core
//
//   - binarize with a threshold list applies entry i to index i of axis
//     (the format's intent); core compares against the list with numpy
//     broadcasting, which only works when axis is the last dimension.
//   - zero_mean_unit_variance and scale_range use the eps of their kwargs;
//     core drops it and always uses 1e-6. (fixed_zero_mean_unit_variance
//     has no eps kwarg: 1e-6.)
//   - binarize compares with the threshold rounded to the input's
//     precision, which is what numpy does for a scalar threshold; core's
//     float64 threshold list would compare in float64.
//   - scale_linear, fixed_zero_mean_unit_variance and binarize accept a
//     single-entry list along an axis as a scalar (numpy broadcasting).
//   - Postprocessing statistics of a reference tensor naming an input are
//     taken from the preprocessed input passed to Postprocess.
package process
