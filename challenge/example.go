package challenge

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/zoo-bioimage/zoo/tensor"
)

// SimulateNuclei makes one image of a simulated nucleus-segmentation
// problem whose ground truth is known by construction — what the example
// challenge (zoo serve --seed) is built from, so that its hidden truth is
// independent of every model that may be submitted. Nuclei are ellipses
// (semi-axes 7–17 pixels, any orientation, few overlaps) of random
// brightness with texture; the image is their intensity blurred by a
// Gaussian point-spread function (σ 2 px), on a background, under uneven
// illumination, with shot-like and read noise. truth is the nuclei's
// foreground mask (1 inside, 0 outside): the probability map a perfect
// segmentation gives. Both are float32 1×1×h×w; the same rng state gives
// the same image.
func SimulateNuclei(rng *rand.Rand, h, w int) (input, truth *tensor.Tensor) {
	mask := make([]float32, h*w)
	signal := make([]float32, h*w)
	type nucleus struct{ cy, cx, a, b float64 }
	var placed []nucleus
	target := h * w / 3500 // ~75 nuclei in 512×512
	for tries := 0; len(placed) < target && tries < target*40; tries++ {
		n := nucleus{cy: rng.Float64() * float64(h), cx: rng.Float64() * float64(w), a: 7 + rng.Float64()*10, b: 7 + rng.Float64()*10}
		ok := true
		for _, p := range placed {
			if math.Hypot(p.cy-n.cy, p.cx-n.cx) < 0.85*(max(p.a, p.b)+max(n.a, n.b)) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		placed = append(placed, n)
		theta := rng.Float64() * math.Pi
		cos, sin := math.Cos(theta), math.Sin(theta)
		bright := 0.5 + 0.5*rng.Float64()
		r := int(math.Ceil(max(n.a, n.b)))
		for y := max(0, int(n.cy)-r); y <= min(h-1, int(n.cy)+r); y++ {
			for x := max(0, int(n.cx)-r); x <= min(w-1, int(n.cx)+r); x++ {
				dy, dx := float64(y)+0.5-n.cy, float64(x)+0.5-n.cx
				u, v := (dx*cos+dy*sin)/n.a, (-dx*sin+dy*cos)/n.b
				if d := u*u + v*v; d <= 1 {
					mask[y*w+x] = 1
					// Brighter towards the centre, with texture.
					signal[y*w+x] = float32(bright * (0.75 + 0.25*(1-d)) * (0.85 + 0.3*rng.Float64()))
				}
			}
		}
	}
	img := blur(signal, h, w, 2)
	for y := range h {
		for x := range w {
			illum := 0.7 + 0.3*float64(x+y)/float64(h+w) // brighter to the bottom right
			v := (0.08 + float64(img[y*w+x])) * illum
			v += rng.NormFloat64() * (0.02 + 0.06*math.Sqrt(v))
			img[y*w+x] = float32(v)
		}
	}
	input, _ = tensor.New(tensor.Float32, []int{1, 1, h, w})
	truth, _ = tensor.New(tensor.Float32, []int{1, 1, h, w})
	copy(input.Float32s(), img)
	copy(truth.Float32s(), mask)
	return input, truth
}

// blur is a separable Gaussian blur (edges clamped).
func blur(src []float32, h, w int, sigma float64) []float32 {
	r := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*r+1)
	var sum float64
	for i := range k {
		d := float64(i - r)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	tmp := make([]float32, len(src))
	out := make([]float32, len(src))
	for y := range h {
		for x := range w {
			var s float64
			for i, kv := range k {
				xx := min(max(x+i-r, 0), w-1)
				s += kv * float64(src[y*w+xx])
			}
			tmp[y*w+x] = float32(s)
		}
	}
	for y := range h {
		for x := range w {
			var s float64
			for i, kv := range k {
				yy := min(max(y+i-r, 0), h-1)
				s += kv * float64(tmp[yy*w+x])
			}
			out[y*w+x] = float32(s)
		}
	}
	return out
}

// BaselineIntensity is a naive prediction from an input alone: the image
// smoothed (σ 1 px) and scaled by its 1st and 99th percentiles to [0, 1].
// The example challenge's seeded participants submit it and
// BaselineThreshold, so that its leaderboard compares real methods.
func BaselineIntensity(input *tensor.Tensor) *tensor.Tensor {
	h, w := input.Shape[len(input.Shape)-2], input.Shape[len(input.Shape)-1]
	s := blur(input.Float32s(), h, w, 1)
	lo, hi := percentile(s, 0.01), percentile(s, 0.99)
	out := input.Clone()
	for i, v := range s {
		out.Float32s()[i] = float32(min(max((float64(v)-lo)/max(hi-lo, 1e-9), 0), 1))
	}
	return out
}

// BaselineThreshold is a classical segmentation of an input alone: the
// smoothed image (σ 1.5 px) thresholded at the midpoint between its 5th
// and 99th percentiles, 1 above and 0 below.
func BaselineThreshold(input *tensor.Tensor) *tensor.Tensor {
	h, w := input.Shape[len(input.Shape)-2], input.Shape[len(input.Shape)-1]
	s := blur(input.Float32s(), h, w, 1.5)
	cut := (percentile(s, 0.05) + percentile(s, 0.99)) / 2
	out := input.Clone()
	for i, v := range s {
		out.Float32s()[i] = 0
		if float64(v) > cut {
			out.Float32s()[i] = 1
		}
	}
	return out
}

// percentile is the q-quantile of v (nearest rank on a sorted copy).
func percentile(v []float32, q float64) float64 {
	s := make([]float64, len(v))
	for i, x := range v {
		s[i] = float64(x)
	}
	sortFloats(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func sortFloats(s []float64) { slices.Sort(s) }
