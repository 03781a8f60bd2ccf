package spec

import (
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pre- and postprocessing steps of model 0.5 (reference §8).

var preprocIDs = []string{"binarize", "clip", "ensure_dtype", "fixed_zero_mean_unit_variance", "scale_linear", "scale_range", "sigmoid", "softmax", "zero_mean_unit_variance"}
var postprocIDs = append(append([]string(nil), preprocIDs...), "scale_mean_variance")

var (
	epsRule        = floatRule(0, true, 0.1, false)
	minPercentile  = floatRule(0, false, 100, true)
	maxPercentile  = floatRule(1, true, 100, false)
	axesListRule   = nullable(listRule(0, axisIDRule(true)))
	nonBatchAxis   = axisIDRule(false)
	floatOrList    = func(c *checker, n *yaml.Node, p path) { numberOrList(c, n, p, math.Inf(-1)) }
	stdOrList      = func(c *checker, n *yaml.Node, p path) { numberOrList(c, n, p, 1e-6) }
	ensureDtypeFld = []field{{key: "dtype", required: true, check: enumRule(dtypes05Bool...)}}
)

func numberOrList(c *checker, n *yaml.Node, p path, lo float64) {
	r := floatRule(lo, false, math.Inf(1), false)
	if n.Kind == yaml.SequenceNode {
		listRule(1, r)(c, n, p)
		return
	}
	r(c, n, p)
}

func procRule(pre bool) check {
	ids := postprocIDs
	if pre {
		ids = preprocIDs
	}
	return func(c *checker, n *yaml.Node, p path) {
		id, ok := c.stepName(n, p, "id", ids)
		if !ok {
			return
		}
		if id == "sigmoid" {
			c.object(n, p, []field{{key: "id", required: true}}, false)
			return
		}
		kw := lookup(n, "kwargs")
		c.object(n, p, []field{{key: "id", required: true}, {key: "kwargs", required: kwargsRequired(id)}}, false)
		if kw == nil {
			kw = &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
			if kwargsRequired(id) {
				return
			}
		}
		procKwargs(c, id, kw, p.k("kwargs"))
	}
}

// stepName checks the discriminator of a processing step — key "id" in
// format 0.5, "name" in 0.4 — against the steps allowed where it stands,
// and returns it when the step can be checked further.
func (c *checker) stepName(n *yaml.Node, p path, key string, allowed []string) (string, bool) {
	if n.Kind != yaml.MappingNode {
		c.errorf(n, p, "expected a processing step {%s: …, kwargs: …}, found %s", key, kindName(n))
		return "", false
	}
	kn := lookup(n, key)
	if kn == nil {
		article := "a"
		if key == "id" {
			article = "an"
		}
		c.errorf(n, p.k(key), "a processing step needs %s '%s' (one of %s)", article, key, strings.Join(allowed, ", "))
		return "", false
	}
	name, ok := c.str(kn, p.k(key))
	if !ok {
		return "", false
	}
	if !contains(allowed, name) {
		if name == "scale_mean_variance" {
			c.errorf(kn, p.k(key), "scale_mean_variance is only allowed in postprocessing")
		} else {
			c.errorf(kn, p.k(key), "unknown processing step %q; use one of %s", clip(name, 40), strings.Join(allowed, ", "))
		}
		return "", false
	}
	return name, true
}

func kwargsRequired(id string) bool {
	switch id {
	case "zero_mean_unit_variance", "scale_range", "softmax":
		return false
	}
	return true
}

func procKwargs(c *checker, id string, kw *yaml.Node, p path) {
	switch id {
	case "binarize":
		if t := lookup(kw, "threshold"); t != nil && t.Kind == yaml.SequenceNode {
			c.object(kw, p, []field{{key: "threshold", required: true, check: listRule(1, anyNumber)}, {key: "axis", required: true, check: nonBatchAxis}}, false)
		} else {
			c.object(kw, p, []field{{key: "threshold", required: true, check: anyNumber}}, false)
		}
	case "clip":
		v := c.object(kw, p, []field{
			{key: "min", check: nullable(anyNumber)}, {key: "min_percentile", check: nullable(minPercentile)},
			{key: "max", check: nullable(anyNumber)}, {key: "max_percentile", check: nullable(maxPercentile)},
			{key: "axes", check: axesListRule},
		}, false)
		if v == nil {
			return
		}
		has := func(k string) bool { return !isNull(v[k]) }
		switch {
		case has("min") && has("min_percentile"):
			c.errorf(kw, p, "give either min or min_percentile, not both")
		case has("max") && has("max_percentile"):
			c.errorf(kw, p, "give either max or max_percentile, not both")
		case !has("min") && !has("min_percentile") && !has("max") && !has("max_percentile"):
			c.errorf(kw, p, "clip needs at least one of min, min_percentile, max, max_percentile")
		case has("axes") && !has("min_percentile") && !has("max_percentile"):
			c.errorf(kw, p, "axes only matter for percentiles; remove axes or use min_percentile/max_percentile")
		}
	case "ensure_dtype":
		c.object(kw, p, ensureDtypeFld, false)
	case "fixed_zero_mean_unit_variance":
		if m := lookup(kw, "mean"); m != nil && m.Kind == yaml.SequenceNode {
			v := c.object(kw, p, []field{
				{key: "mean", required: true, check: listRule(1, anyNumber)},
				{key: "std", required: true, check: listRule(1, floatRule(1e-6, false, math.Inf(1), false))},
				{key: "axis", required: true, check: nonBatchAxis},
			}, false)
			if v != nil && v["std"] != nil && v["std"].Kind == yaml.SequenceNode && len(v["std"].Content) != len(m.Content) {
				c.errorf(kw, p, "mean and std need the same number of values (%d ≠ %d)", len(m.Content), len(v["std"].Content))
			}
		} else {
			c.object(kw, p, []field{
				{key: "mean", required: true, check: anyNumber},
				{key: "std", required: true, check: floatRule(1e-6, false, math.Inf(1), false)},
			}, false)
		}
	case "scale_linear":
		scaleLinearKwargs(c, kw, p)
	case "scale_mean_variance":
		c.object(kw, p, []field{
			{key: "reference_tensor", required: true, check: tensorIDRule},
			{key: "axes", check: axesListRule},
			{key: "eps", check: epsRule},
		}, false)
	case "scale_range":
		v := c.object(kw, p, []field{
			{key: "axes", check: axesListRule},
			{key: "min_percentile", check: minPercentile},
			{key: "max_percentile", check: maxPercentile},
			{key: "eps", check: epsRule},
			{key: "reference_tensor", check: nullable(tensorIDRule)},
		}, false)
		if v != nil {
			lo, hi := 0.0, 100.0
			if f, ok := asFloat(v["min_percentile"]); ok {
				lo = f
			}
			if f, ok := asFloat(v["max_percentile"]); ok {
				hi = f
			}
			if lo >= hi {
				c.errorf(kw, p, "min_percentile %g >= max_percentile %g", lo, hi)
			}
		}
	case "softmax":
		c.object(kw, p, []field{{key: "axis", check: nonBatchAxis}}, false)
	case "zero_mean_unit_variance":
		c.object(kw, p, []field{{key: "axes", check: axesListRule}, {key: "eps", check: epsRule}}, false)
	}
}

func scaleLinearKwargs(c *checker, kw *yaml.Node, p path) {
	if lookup(kw, "axis") == nil {
		v := c.object(kw, p, []field{{key: "gain", check: anyNumber}, {key: "offset", check: anyNumber}}, false)
		if v == nil {
			return
		}
		g, ok1 := asFloat(v["gain"])
		o, ok2 := asFloat(v["offset"])
		if !ok1 {
			g = 1
		}
		if !ok2 {
			o = 0
		}
		if g == 1 && o == 0 {
			c.errorf(kw, p, "scale_linear with gain 1 and offset 0 does nothing; remove the step or set gain/offset")
		}
		return
	}
	v := c.object(kw, p, []field{
		{key: "axis", required: true, check: nonBatchAxis},
		{key: "gain", check: floatOrList},
		{key: "offset", check: floatOrList},
	}, false)
	if v == nil {
		return
	}
	gains, offs := numbersOf(v["gain"], 1), numbersOf(v["offset"], 0)
	gList := v["gain"] != nil && v["gain"].Kind == yaml.SequenceNode
	oList := v["offset"] != nil && v["offset"].Kind == yaml.SequenceNode
	switch {
	case !gList && !oList:
		c.errorf(kw, p.k("axis"), "Do not specify an `axis` for scalar gain and offset values.")
		return
	case gList && oList && len(gains) != len(offs):
		c.errorf(kw, p, "gain and offset lists need the same length (%d ≠ %d)", len(gains), len(offs))
		return
	}
	allID := true
	for _, g := range gains {
		allID = allID && g == 1
	}
	for _, o := range offs {
		allID = allID && o == 0
	}
	if allID {
		c.errorf(kw, p, "scale_linear with all gains 1 and all offsets 0 does nothing; remove the step")
	}
}

// numbersOf returns the numbers of a scalar or list node (def if absent).
func numbersOf(n *yaml.Node, def float64) []float64 {
	if n == nil {
		return []float64{def}
	}
	if n.Kind == yaml.SequenceNode {
		out := make([]float64, 0, len(n.Content))
		for _, it := range n.Content {
			f, _ := asFloat(it)
			out = append(out, f)
		}
		return out
	}
	f, _ := asFloat(n)
	return []float64{f}
}

// insertEnsureDtype adds the ensure_dtype steps the format implies (§5):
// inputs start and end with ensure_dtype (or end with binarize), outputs end
// with ensure_dtype (or binarize).
func insertEnsureDtype(root *yaml.Node) {
	for _, key := range []string{"inputs", "outputs"} {
		list := lookup(root, key)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		procKey := "preprocessing"
		if key == "outputs" {
			procKey = "postprocessing"
		}
		for _, t := range list.Content {
			if t.Kind != yaml.MappingNode {
				continue
			}
			dtype := "float32"
			if d := lookup(t, "data"); d != nil {
				if d.Kind == yaml.SequenceNode && len(d.Content) > 0 {
					dtype = dataType(d.Content[0])
				} else if d.Kind == yaml.MappingNode {
					dtype = dataType(d)
				}
			}
			steps := lookup(t, procKey)
			if steps == nil || isNull(steps) {
				steps = seqNode()
				set(t, procKey, steps)
			}
			if steps.Kind != yaml.SequenceNode {
				continue
			}
			step := func() *yaml.Node {
				return mapNode("id", strNode("ensure_dtype"), "kwargs", mapNode("dtype", strNode(dtype)))
			}
			stepID := func(i int) string {
				if i < 0 || i >= len(steps.Content) {
					return ""
				}
				if id := lookup(steps.Content[i], "id"); id != nil {
					return id.Value
				}
				return ""
			}
			if key == "inputs" && stepID(0) != "ensure_dtype" {
				steps.Content = append([]*yaml.Node{step()}, steps.Content...)
			}
			if last := stepID(len(steps.Content) - 1); last != "ensure_dtype" && last != "binarize" {
				steps.Content = append(steps.Content, step())
			}
		}
	}
}
