package process

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/zoo-bioimage/zoo/spec"
)

// Every op whose parameters vary along an axis (per-channel lists, or
// statistics kept per batch entry × channel) against a naive reference
// written here, with the channel axis first, in the middle and last (the
// layout of most RGB image files, where the parameter changes at every
// element), on tensors large enough to be split between goroutines at
// boundaries inside a run of one channel.

// axisLayout is a tensor layout: axis ids in order and their sizes.
type axisLayout struct {
	axes  []string
	shape []int
}

var channelLayouts = []axisLayout{
	{[]string{"batch", "y", "x", "channel"}, []int{2, 131, 173, 5}},
	{[]string{"batch", "channel", "y", "x"}, []int{2, 5, 131, 173}},
	{[]string{"batch", "y", "channel", "x"}, []int{2, 131, 5, 173}},
	{[]string{"channel", "y", "x"}, []int{5, 263, 173}},
}

func (l axisLayout) size() int {
	n := 1
	for _, s := range l.shape {
		n *= s
	}
	return n
}

// index returns the index along axis of the element at flat C-order
// position i (0 when the layout lacks the axis).
func (l axisLayout) index(i int, axis string) int {
	for d := len(l.shape) - 1; d >= 0; d-- {
		if l.axes[d] == axis {
			return i % l.shape[d]
		}
		i /= l.shape[d]
	}
	return 0
}

// groups returns, for every element, the index of its group (its
// indices along the axes not in reduced, combined), and the values of each
// group.
func (l axisLayout) groups(x []float64, reduced ...string) (of []int, vals [][]float64) {
	of = make([]int, len(x))
	index := map[string]int{}
	for i := range x {
		key := ""
		for _, a := range l.axes {
			if !slices.Contains(reduced, a) {
				key += fmt.Sprintf("%s%d ", a, l.index(i, a))
			}
		}
		g, ok := index[key]
		if !ok {
			g = len(vals)
			index[key] = g
			vals = append(vals, nil)
		}
		of[i] = g
		vals[g] = append(vals[g], x[i])
	}
	return of, vals
}

func naiveMeanStd(v []float64) (mean, std float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)))
}

// naiveLinear is numpy.quantile(v, q) (method "linear"): interpolation
// between the order statistics around (n − 1)·q.
func naiveLinear(v []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(v))
	pos := float64(len(s)-1) * q
	i := int(pos)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + (s[i+1]-s[i])*(pos-float64(i))
}

// naiveInvertedCDF is numpy.quantile(v, q, method="inverted_cdf"): the
// smallest value whose empirical CDF k/n reaches q.
func naiveInvertedCDF(v []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(v))
	for k := 1; k <= len(s); k++ {
		if float64(k)/float64(len(s)) >= q {
			return s[k-1]
		}
	}
	return s[len(s)-1]
}

// channelData is float32 values whose distribution differs per channel
// (channel c: centre 10·c, spread c + 1), in steps of 1/4 so groups hold
// many ties.
func channelData(r *rand.Rand, l axisLayout) []float32 {
	x := make([]float32, l.size())
	for i := range x {
		c := float64(l.index(i, "channel"))
		x[i] = float32(math.Round((r.NormFloat64()*(c+1)+10*c)*4) / 4)
	}
	return x
}

func TestParametersAlongEveryAxisPosition(t *testing.T) {
	gain := []float64{1.5, -2, 0.25, 3, 10}
	offset := []float64{0, 1, -2, 0.5, 7}
	fixedMean := []float64{0.5, 11, 19, 31, 42}
	fixedStd := []float64{1, 2.5, 3, 4, 0.5}
	threshold := []float64{0.3, 10.1, 20.6, 29.9, 40.2}
	const eps = 1e-5
	r := rand.New(rand.NewPCG(21, 22))
	for _, l := range channelLayouts {
		hasBatch := l.axes[0] == "batch"
		vals := channelData(r, l)
		x := make([]float64, len(vals))
		ch := make([]int, len(vals))
		for i, v := range vals {
			x[i] = float64(v)
			ch[i] = l.index(i, "channel")
		}
		sampleOf, sample := l.groups(x, "y", "x")
		channelOf, channel := l.groups(x, "batch", "y", "x")
		// perGroup evaluates f on each group once.
		perGroup := func(groups [][]float64, f func([]float64) (float64, float64)) (a, b []float64) {
			a, b = make([]float64, len(groups)), make([]float64, len(groups))
			for g, v := range groups {
				a[g], b[g] = f(v)
			}
			return a, b
		}
		sMean, sStd := perGroup(sample, naiveMeanStd)
		cMean, cStd := perGroup(channel, naiveMeanStd)
		sLo, sHi := perGroup(sample, func(v []float64) (float64, float64) { return naiveLinear(v, 0.01), naiveLinear(v, 0.995) })
		cLo, cHi := perGroup(channel, func(v []float64) (float64, float64) { return naiveLinear(v, 0.025), naiveLinear(v, 0.97) })
		iLo, iHi := perGroup(sample, func(v []float64) (float64, float64) { return naiveInvertedCDF(v, 0.05), naiveInvertedCDF(v, 0.95) })
		cases := []struct {
			name string
			step spec.ProcStep
			want func(i int, v float64) float64
			skip bool
		}{
			{"scale_linear per channel", spec.ProcStep{ID: spec.OpScaleLinear, Axis: "channel", Gain: gain, Offset: offset},
				func(i int, v float64) float64 { return v*gain[ch[i]] + offset[ch[i]] }, false},
			{"fixed_zero_mean_unit_variance per channel", spec.ProcStep{ID: spec.OpFixedZeroMeanUnitVariance, Axis: "channel", Mean: fixedMean, Std: fixedStd},
				func(i int, v float64) float64 { return (v - fixedMean[ch[i]]) / (fixedStd[ch[i]] + 1e-6) }, false},
			{"binarize per channel", spec.ProcStep{ID: spec.OpBinarize, Axis: "channel", Threshold: threshold},
				func(i int, v float64) float64 {
					if v > float64(float32(threshold[ch[i]])) {
						return 1
					}
					return 0
				}, false},
			{"zero_mean_unit_variance over y, x", spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Axes: []string{"y", "x"}, Eps: eps},
				func(i int, v float64) float64 { g := sampleOf[i]; return (v - sMean[g]) / (sStd[g] + eps) }, false},
			{"zero_mean_unit_variance over batch, y, x (dataset)", spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Axes: []string{"batch", "y", "x"}, Eps: eps},
				func(i int, v float64) float64 { g := channelOf[i]; return (v - cMean[g]) / (cStd[g] + eps) }, !hasBatch},
			{"scale_range over y, x", spec.ProcStep{ID: spec.OpScaleRange, Axes: []string{"y", "x"}, MinPercentile: f(1), MaxPercentile: f(99.5), Eps: eps},
				func(i int, v float64) float64 { g := sampleOf[i]; return (v - sLo[g]) / (sHi[g] - sLo[g] + eps) }, false},
			// One sample: the dataset quantiles are its quantiles.
			{"scale_range over batch, y, x (dataset)", spec.ProcStep{ID: spec.OpScaleRange, Axes: []string{"batch", "y", "x"}, MinPercentile: f(2.5), MaxPercentile: f(97), Eps: eps},
				func(i int, v float64) float64 { g := channelOf[i]; return (v - cLo[g]) / (cHi[g] - cLo[g] + eps) }, !hasBatch},
			{"clip at percentiles over y, x", spec.ProcStep{ID: spec.OpClip, Axes: []string{"y", "x"}, MinPercentile: f(5), MaxPercentile: f(95)},
				func(i int, v float64) float64 { g := sampleOf[i]; return min(max(v, iLo[g]), iHi[g]) }, false},
		}
		for _, c := range cases {
			if c.skip {
				continue
			}
			want := make([]float64, len(x))
			for i, v := range x {
				want[i] = c.want(i, v)
			}
			for _, procs := range []int{1, 3} {
				t.Run(fmt.Sprintf("procs%d/%v/%s", procs, l.axes, c.name), func(t *testing.T) {
					withProcs(t, procs)
					p := pipeline(t, &spec.Model{Inputs: []spec.Tensor{in("x", l.axes, c.step)}})
					near(t, c.name, pre(t, p, "x", f32(l.shape, l.axes, vals...)), want)
				})
			}
		}
	}
}
