package pages

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo/spec"
)

// tensorView is what a model takes or gives, in words for a scientist who
// has not read the format: one row per fact, all from the description.
type tensorView struct {
	Kind        string // "Input" or "Output"
	ID          string // shown only when it says more than Kind (see captionID)
	Description string
	Rows        []factRow
}

type factRow struct{ Name, Value string }

// maxListed bounds the channel names and steps spelled out on a page.
const maxListed = 8

// tensorViews describes the inputs and outputs of d.
func tensorViews(d *spec.Model) []tensorView {
	var out []tensorView
	for i := range d.Inputs {
		out = append(out, describeTensor("Input", &d.Inputs[i], true, len(d.Inputs)))
	}
	for i := range d.Outputs {
		out = append(out, describeTensor("Output", &d.Outputs[i], false, len(d.Outputs)))
	}
	return out
}

func describeTensor(kind string, t *spec.Tensor, input bool, of int) tensorView {
	v := tensorView{Kind: kind, ID: captionID(kind, t.ID, of), Description: strings.TrimSpace(t.Description)}
	if len(v.Description) > 300 {
		v.Description = v.Description[:300] + "…"
	}
	v.Rows = append(v.Rows, factRow{"Image", imageKind(t)})
	if c := channelText(t, input); c != "" {
		v.Rows = append(v.Rows, factRow{"Channels", c})
	}
	if s := sizeRow(t, input); s != "" {
		name := "Size"
		if input {
			name = "Size the model sees"
		}
		v.Rows = append(v.Rows, factRow{name, s})
	}
	if input {
		v.Rows = append(v.Rows, factRow{"Values", inputValues(t)})
	} else {
		v.Rows = append(v.Rows, factRow{"Values", outputValues(t)})
	}
	return v
}

// captionID is id unless it only repeats kind ("input", "output0") and
// is the only one of its kind (of), to avoid captions like "Input input"
// while telling several apart.
func captionID(kind, id string, of int) string {
	if of > 1 {
		return id
	}
	k := strings.ToLower(kind)
	l := strings.ToLower(id)
	if l == k || strings.TrimLeft(strings.TrimPrefix(l, k), "0123456789_") == "" && strings.HasPrefix(l, k) {
		return ""
	}
	return id
}

// spaceAxes are the space axes' ids (the letters a scientist knows).
func spaceAxes(t *spec.Tensor) []spec.Axis {
	var s []spec.Axis
	for _, a := range t.Axes {
		if a.Type == spec.AxisSpace {
			s = append(s, a)
		}
	}
	return s
}

func imageKind(t *spec.Tensor) string {
	sp := spaceAxes(t)
	ids := make([]string, len(sp))
	for i, a := range sp {
		ids[i] = a.ID
	}
	var s string
	switch len(sp) {
	case 0:
		s = "not an image (no spatial axes)"
	case 1:
		s = "1-D signal (" + ids[0] + ")"
	case 2:
		s = "2-D image (" + strings.Join(ids, " × ") + ")"
	default:
		s = strconv.Itoa(len(sp)) + "-D volume (" + strings.Join(ids, " × ") + "): a z-stack, not a single plane"
	}
	for _, a := range t.Axes {
		if a.Type == spec.AxisTime {
			s += ", over time"
		}
	}
	return s
}

func channelText(t *spec.Tensor, input bool) string {
	grey := ""
	if input {
		grey = " (grey)"
	}
	for _, a := range t.Axes {
		if a.Type != spec.AxisChannel {
			continue
		}
		n := a.Size.Fixed
		names := a.ChannelNames
		list := ""
		if len(names) > 0 && len(names) <= maxListed {
			list = ": " + strings.Join(names, ", ")
		}
		switch n {
		case 1:
			return "1" + grey + list
		case 3:
			return "3 (e.g. RGB colour)" + list
		}
		return strconv.Itoa(n) + list
	}
	return "1" + grey
}

// sizeRow gives the space axes' sizes: fixed, "at least … in steps of …",
// or the input it follows.
func sizeRow(t *spec.Tensor, input bool) string {
	var parts []string
	tiled := false
	for _, a := range spaceAxes(t) {
		switch a.Size.Kind {
		case spec.SizeFixed:
			parts = append(parts, fmt.Sprintf("%s %d", a.ID, a.Size.Fixed))
			tiled = true
		case spec.SizeParameterized:
			if a.Size.Step == 0 {
				parts = append(parts, fmt.Sprintf("%s %d", a.ID, a.Size.Min))
				tiled = true
			} else {
				parts = append(parts, fmt.Sprintf("%s at least %d, in steps of %d", a.ID, a.Size.Min, a.Size.Step))
			}
		case spec.SizeReference:
			parts = append(parts, fmt.Sprintf("%s as the input's %s", a.ID, a.Size.Ref.AxisID))
		case spec.SizeDataDependent:
			parts = append(parts, a.ID+" depends on the data")
		}
	}
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, ", ")
	if input && tiled {
		s += " pixels at a time; larger images are processed in tiles"
	} else if input {
		s += " (other sizes are padded or processed in tiles)"
	}
	return s
}

func dataText(t *spec.Tensor) (dtype, rng string) {
	if len(t.Data) == 0 {
		return "float32", ""
	}
	d := t.Data[0]
	if d.Range[0] != nil || d.Range[1] != nil {
		lo, hi := "−∞", "∞"
		if d.Range[0] != nil {
			lo = strconv.FormatFloat(*d.Range[0], 'g', 4, 64)
		}
		if d.Range[1] != nil {
			hi = strconv.FormatFloat(*d.Range[1], 'g', 4, 64)
		}
		rng = lo + " to " + hi
	}
	return d.Type, rng
}

func inputValues(t *spec.Tensor) string {
	var steps []string
	for _, p := range t.Preprocessing {
		if s := stepText(p); s != "" {
			steps = append(steps, s)
		}
		if len(steps) == maxListed {
			break
		}
	}
	dtype, rng := dataText(t)
	if len(steps) == 0 {
		s := "used as they are: the model expects " + dtype
		if rng != "" {
			s += " values from " + rng
		}
		return s + "; scale your image the way the model was trained"
	}
	return "any intensities (8-bit, 16-bit or float): the model first " + strings.Join(steps, ", then ")
}

func outputValues(t *spec.Tensor) string {
	dtype, rng := dataText(t)
	var what string
	for _, p := range t.Postprocessing {
		switch p.ID {
		case "sigmoid":
			what = "probabilities from 0 to 1"
		case "softmax":
			what = "probabilities from 0 to 1 (per pixel, summing to 1 over channels)"
		case "binarize":
			what = "a mask: 0 or 1"
		}
	}
	if what == "" && rng != "" {
		what = "values from " + rng
	}
	if what == "" {
		what = "values as the model computes them"
	}
	return what + " (" + dtype + ")"
}

// stepText is a preprocessing step in words ("" for steps a person need
// not know, e.g. ensure_dtype).
func stepText(p spec.ProcStep) string {
	pct := func(f *float64, def string) string {
		if f == nil {
			return def
		}
		return strconv.FormatFloat(*f, 'g', 4, 64)
	}
	per := "per image" // try-it and zoo predict see one image: its own statistics
	switch p.ID {
	case "scale_range":
		return fmt.Sprintf("rescales them %s between their %sth and %sth percentiles", per, pct(p.MinPercentile, "0"), pct(p.MaxPercentile, "100"))
	case "zero_mean_unit_variance":
		return "normalises them " + per + " to mean 0 and standard deviation 1"
	case "fixed_zero_mean_unit_variance":
		return "normalises them with a fixed mean and standard deviation"
	case "scale_linear":
		return "scales them linearly by fixed factors"
	case "clip":
		return fmt.Sprintf("clips them to %s–%s", pct(p.Min, "−∞"), pct(p.Max, "∞"))
	case "sigmoid":
		return "applies a sigmoid"
	case "binarize":
		return "thresholds them into 0 and 1"
	case "scale_mean_variance":
		return "matches their mean and variance to a reference"
	}
	return ""
}
