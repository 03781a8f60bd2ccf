// Package runner runs bioimage.io models: it loads a package (Load), picks
// an inference backend by weight format (Open, Register), resolves tensor
// sizes (sizes.go), predicts whole or tiled samples (Predictor, Plan),
// maps image files to model tensors (images.go) and tests models against
// their test tensors (Test).
//
// # Backends
//
// A backend turns one weight format of a model into a Model (Run, Close).
// ONNX is built in (ONNX Runtime through package onnx); a format without a
// backend fails with ErrNotSupported, whose text is exactly
// "not supported: <format>; zoo runs: <formats>". The torchscript backend
// (package torch, registered in torchscript.go where libtorch and zoo's
// shim are installed) plugs in the same way. Models are fed positionally, in the description's input order and
// axis order, as the reference implementation does.
//
// # Prediction
//
// Predictor.Predict runs preprocessing (package process), the model and
// postprocessing on a sample whose sizes the model accepts.
// Predictor.PredictTiled preprocesses the whole sample (statistics come
// from the whole image), runs the model block by block as NewPlan splits
// it, stitches the outputs and postprocesses the whole result. See Plan
// for the geometry and for what the stitched result equals.
//
// # Decisions that differ from the reference (bioimageio.core)
//
//   - Tiling adds context beyond the declared halo (DefaultContext, 64
//     pixels, at most a quarter of a block per side): the fixture U-Nets
//     need about 64 pixels for tiles to agree exactly with untiled runs,
//     while the nuclei model declares 32 and the others none.
//   - Block positions are multiples of the parameterized axis's step (or,
//     for fixed sizes, of the largest power of two ≤ 16 dividing the
//     size), so pooling grids line up; the reference shifts the last block
//     to the sample's end wherever that falls. Instead, zoo pads the sample
//     at its end (mirrored) to a size that keeps the grid, and crops.
//   - Samples of sizes the model does not accept are padded to the next
//     accepted size and cropped back, instead of failing.
//   - A model of batch size 1 runs a larger batch one sample at a time.
//   - Comparisons count NaN against a number as a mismatch (numpy does not).
//   - Test: descriptions of format 0.4 get the reference's 0.4 treatment
//     (no parameterized cases; no mismatched elements allowed unless a
//     tolerance is configured).
package runner
