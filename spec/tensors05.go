package spec

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Cross-field rules between tensors and axes of a model 0.5 (reference §5,
// §6.1, §11). They run on the tree after the field rules, tolerating
// malformed parts (those already have errors).

type sizeKind int

const (
	sizeNone     sizeKind = iota // batch with null size, or malformed
	sizeFixed                    // an integer
	sizeParam                    // {min, step}
	sizeRef                      // {tensor_id, axis_id, offset}
	sizeDataDep                  // {min, max} of an output index axis
	sizeChannels                 // a channel axis: the number of names
)

type axisInfo struct {
	id, typ   string
	node      *yaml.Node
	p         path
	kind      sizeKind
	fixed     int64
	min, step int64
	refTensor string
	refAxis   string
	offset    int64
	scale     float64
	unit      string
	halo      int64
	sizeNode  *yaml.Node
}

type tensorInfo struct {
	id    string
	input bool
	node  *yaml.Node
	p     path
	axes  []*axisInfo
}

var defaultAxisID = map[string]string{"batch": "batch", "channel": "channel", "index": "index", "time": "time", "space": "x"}

func collectTensors(root *yaml.Node) []*tensorInfo {
	var out []*tensorInfo
	for _, key := range []string{"inputs", "outputs"} {
		list := lookup(root, key)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for i, tn := range list.Content {
			if tn.Kind != yaml.MappingNode {
				continue
			}
			t := &tensorInfo{input: key == "inputs", node: tn, p: path{key, itoa(i)}, id: "input"}
			if !t.input {
				t.id = "output"
			}
			if id := lookup(tn, "id"); id != nil && id.Tag == "!!str" {
				t.id = id.Value
			}
			if axes := lookup(tn, "axes"); axes != nil && axes.Kind == yaml.SequenceNode {
				for j, an := range axes.Content {
					if a := collectAxis(an, t.p.k("axes").i(j)); a != nil {
						t.axes = append(t.axes, a)
					}
				}
			}
			out = append(out, t)
		}
	}
	return out
}

func collectAxis(n *yaml.Node, p path) *axisInfo {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	tn := lookup(n, "type")
	if tn == nil || tn.Tag != "!!str" {
		return nil
	}
	a := &axisInfo{typ: tn.Value, node: n, p: p, scale: 1, id: defaultAxisID[tn.Value]}
	if id := lookup(n, "id"); id != nil && id.Tag == "!!str" {
		a.id = id.Value
		if alias, ok := axisAliases[a.id]; ok {
			a.id = alias
		}
	}
	if s, ok := asFloat(lookup(n, "scale")); ok {
		a.scale = s
	}
	if u := lookup(n, "unit"); u != nil && u.Tag == "!!str" {
		a.unit = u.Value
	}
	if h, ok := asInt(lookup(n, "halo")); ok {
		a.halo = h
	}
	if a.typ == "channel" {
		a.kind = sizeChannels
		if cn := lookup(n, "channel_names"); cn != nil && cn.Kind == yaml.SequenceNode {
			a.fixed = int64(len(cn.Content))
		}
		return a
	}
	sz := lookup(n, "size")
	a.sizeNode = sz
	switch {
	case isNull(sz):
		a.kind = sizeNone
	case sz.Kind == yaml.ScalarNode:
		if v, ok := asInt(sz); ok {
			a.kind, a.fixed = sizeFixed, v
		}
	case sz.Kind == yaml.MappingNode:
		switch {
		case lookup(sz, "tensor_id") != nil || lookup(sz, "axis_id") != nil:
			a.kind = sizeRef
			if t := lookup(sz, "tensor_id"); t != nil {
				a.refTensor = t.Value
			}
			if ax := lookup(sz, "axis_id"); ax != nil {
				a.refAxis = ax.Value
				if alias, ok := axisAliases[a.refAxis]; ok {
					a.refAxis = alias
				}
			}
			a.offset, _ = asInt(lookup(sz, "offset"))
		case lookup(sz, "step") != nil:
			a.kind = sizeParam
			a.min, _ = asInt(lookup(sz, "min"))
			a.step, _ = asInt(lookup(sz, "step"))
		default:
			a.kind = sizeDataDep
			a.min = 1
			if v, ok := asInt(lookup(sz, "min")); ok {
				a.min = v
			}
		}
	}
	return a
}

// checkTensorIDs: ids are unique among the inputs and among the outputs.
// An output may share its id with an input (the reference accepts it and
// published models such as segment-anything's pass "embeddings" through);
// zoo warns, since size references to that id then mean the input.
func checkTensorIDs(c *checker, ts []*tensorInfo) {
	seen := map[string]*tensorInfo{}
	for _, t := range ts {
		n := lookup(t.node, "id")
		if n == nil {
			n = t.node
		}
		first, dup := seen[t.id]
		switch {
		case !dup:
			seen[t.id] = t
		case first.input == t.input:
			c.errorf(n, path{"outputs"}, "Duplicate tensor ids: %q is already the id of %s; tensor ids must be unique", t.id, first.p)
		default:
			c.warnf(Warning, n, t.p.k("id"), "output %q has the id of input %s; references to %q mean the input, so give the output its own id", t.id, first.p, t.id)
		}
	}
}

func checkTensorAxes(c *checker, t *tensorInfo) {
	batches := 0
	ids := map[string]bool{}
	var dups []string
	for _, a := range t.axes {
		if a.typ == "batch" {
			batches++
			if batches > 1 {
				c.errorf(a.node, t.p.k("axes"), "a tensor has at most one batch axis (%s is a second one)", a.p)
			}
		}
		if ids[a.id] && !slices.Contains(dups, a.id) {
			dups = append(dups, a.id)
		}
		ids[a.id] = true
	}
	if len(dups) > 0 {
		c.errorf(lookup(t.node, "axes"), t.p.k("axes"), "Duplicate axis ids: %s; give every axis of a tensor its own id", strings.Join(dups, ", "))
	}
	// per-channel data list length
	if d := lookup(t.node, "data"); d != nil && d.Kind == yaml.SequenceNode {
		for _, a := range t.axes {
			if a.typ == "channel" && a.fixed != int64(len(d.Content)) {
				c.errorf(d, t.p, "the per-channel data list has %d entries but the channel axis has %d channel names", len(d.Content), a.fixed)
			}
		}
	}
}

// checkProcAxes checks that kwargs.axes of every step name axes of the tensor.
func checkProcAxes(c *checker, t *tensorInfo) {
	key := "preprocessing"
	if !t.input {
		key = "postprocessing"
	}
	steps := lookup(t.node, key)
	if steps == nil || steps.Kind != yaml.SequenceNode {
		return
	}
	ids := map[string]bool{}
	var names []string
	for _, a := range t.axes {
		ids[a.id] = true
		names = append(names, a.id)
	}
	for i, s := range steps.Content {
		axes := lookup(lookup(s, "kwargs"), "axes")
		if axes == nil || axes.Kind != yaml.SequenceNode {
			continue
		}
		for j, a := range axes.Content {
			if !ids[a.Value] {
				c.errorf(a, t.p, "%s: axis %q is not an axis of tensor %q (its axes are %s); kwargs.axes needs to be subset of axes ids", t.p.k(key).i(i).k("kwargs").k("axes").i(j), a.Value, t.id, strings.Join(names, ", "))
			}
		}
	}
}

// checkSizeRefs enforces the size reference rules of §6.1.
func checkSizeRefs(c *checker, ts []*tensorInfo) {
	byID := map[string]*tensorInfo{}
	for _, t := range ts {
		if _, dup := byID[t.id]; !dup {
			byID[t.id] = t
		}
	}
	for _, t := range ts {
		for _, a := range t.axes {
			if a.kind != sizeRef {
				continue
			}
			sp := a.p.k("size")
			// the reference checks references in validators of the
			// inputs and outputs fields, and reports them there
			loc := t.p[:1]
			rt := byID[a.refTensor]
			if rt == nil || (t.input && !rt.input) {
				what := "tensor"
				if t.input {
					what = "input tensor"
				}
				c.errorf(a.sizeNode, loc, "Invalid tensor axis reference at %s: %s; there is no %s %q (an input axis may only refer to input axes)", sp, fmtAxis(a.refTensor, a.refAxis), what, a.refTensor)
				continue
			}
			var ra *axisInfo
			for _, x := range rt.axes {
				if x.id == a.refAxis {
					ra = x
				}
			}
			switch {
			case ra == nil:
				c.errorf(a.sizeNode, loc, "Invalid tensor axis reference at %s: %s; tensor %q has no axis %q", sp, fmtAxis(a.refTensor, a.refAxis), a.refTensor, a.refAxis)
				continue
			case ra == a:
				c.errorf(a.sizeNode, loc, "Self-referencing not allowed for %s", sp)
				continue
			case ra.typ == "batch":
				c.errorf(a.sizeNode, loc, "Invalid reference to %s at %s: a batch axis is not allowed as reference", fmtAxis(a.refTensor, a.refAxis), sp)
				continue
			case ra.kind != sizeFixed && ra.kind != sizeParam && ra.kind != sizeChannels:
				c.errorf(a.sizeNode, loc, "Invalid reference to %s at %s: it must have a fixed or parameterized size, not another reference or a data-dependent size", fmtAxis(a.refTensor, a.refAxis), sp)
				continue
			}
			if a.unit != ra.unit {
				c.errorf(a.sizeNode, loc, "The units of an axis and its reference axis need to match: %s has unit %q, %s has %q", a.id, orNone(a.unit), fmtAxis(a.refTensor, ra.id), orNone(ra.unit))
			}
			if a.halo > 0 {
				minRef := ra.fixed
				if ra.kind == sizeParam {
					minRef = ra.min
				}
				minSize := int64(float64(minRef)*ra.scale/a.scale) + a.offset
				if minSize-2*a.halo < 1 {
					c.errorf(lookup(a.node, "halo"), loc, "axis %s with minimum size %d is too small for halo %d (%d − 2·%d < 1)", a.id, minSize, a.halo, minSize, a.halo)
				}
				inferred := float64(a.halo) * a.scale / ra.scale
				if inferred != math.Trunc(inferred) {
					c.errorf(lookup(a.node, "halo"), loc, "Inferred halo for %s is not an integer (%g = halo %d · scale %g / reference scale %g)", fmtAxis(rt.id, ra.id), inferred, a.halo, a.scale, ra.scale)
				}
			}
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// checkProcRefs: reference_tensor in preprocessing names an input, in
// postprocessing any tensor.
func checkProcRefs(c *checker, ts []*tensorInfo) {
	inputs, all := map[string]bool{}, map[string]bool{}
	for _, t := range ts {
		all[t.id] = true
		if t.input {
			inputs[t.id] = true
		}
	}
	for _, t := range ts {
		key, allowed := "preprocessing", inputs
		if !t.input {
			key, allowed = "postprocessing", all
		}
		steps := lookup(t.node, key)
		if steps == nil || steps.Kind != yaml.SequenceNode {
			continue
		}
		for i, s := range steps.Content {
			ref := lookup(lookup(s, "kwargs"), "reference_tensor")
			if ref == nil || isNull(ref) || ref.Tag != "!!str" {
				continue
			}
			if !allowed[ref.Value] {
				names := keys(allowed)
				c.errorf(ref, nil, "%s: reference_tensor %q is not one of %s", t.p.k(key).i(i).k("kwargs").k("reference_tensor"), ref.Value, strings.Join(names, ", "))
			}
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ = fmt.Sprint
