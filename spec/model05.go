package spec

import (
	"fmt"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file validates model descriptions of format 0.5 (reference §3–§11).

var dtypes05 = []string{"float32", "float64", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64"}
var dtypes05Bool = append(append([]string(nil), dtypes05...), "bool")

var spaceUnits = []string{"attometer", "angstrom", "centimeter", "decimeter", "exameter", "femtometer", "foot", "gigameter",
	"hectometer", "inch", "kilometer", "megameter", "meter", "micrometer", "mile", "millimeter", "nanometer", "parsec", "petameter",
	"picometer", "terameter", "yard", "yoctometer", "yottameter", "zeptometer", "zettameter"}
var timeUnits = []string{"attosecond", "centisecond", "day", "decisecond", "exasecond", "femtosecond", "gigasecond", "hectosecond",
	"hour", "kilosecond", "megasecond", "microsecond", "millisecond", "minute", "nanosecond", "petasecond", "picosecond", "second",
	"terasecond", "yoctosecond", "yottasecond", "zeptosecond", "zettasecond"}

// WeightFormats lists the weight formats of the format, in the reference's order.
var WeightFormats = []string{"keras_hdf5", "onnx", "pytorch_state_dict", "tensorflow_js", "tensorflow_saved_model_bundle", "torchscript"}

var (
	npyFile   = fileSource{suffixes: []string{".npy"}, noReserved: true}
	imageFile = fileSource{noReserved: true}
	mdFile    = fileSource{suffixes: []string{".md"}, caseSensitive: true, noReserved: true}
	condaFile = fileSource{suffixes: []string{".yaml", ".yml"}, noReserved: true}
)

func validateModel05(c *checker, root *yaml.Node) {
	moveVersionNumber(root)
	if p := lookup(root, "parent"); p != nil && p.Kind == yaml.MappingNode {
		moveVersionNumber(p)
	}
	fields := genericBase03()
	fields = append(fields,
		field{key: "id", check: resourceIDRule},
		field{key: "documentation", fair: true, check: mdFile.rule},
		field{key: "inputs", required: true, check: listRule(1, inputTensorRule)},
		field{key: "outputs", required: true, check: listRule(1, outputTensorRule)},
		field{key: "packaged_by", check: listRule(0, authorRule)},
		field{key: "parent", check: linkedResourceRule},
		field{key: "run_mode", check: runModeRule},
		field{key: "timestamp", check: datetimeRule},
		field{key: "training_data", check: trainingDataRule},
		field{key: "weights", required: true, check: weightsRule05},
		field{key: "config", check: modelConfigRule},
	)
	vals := c.object(root, nil, fields, false)
	if vals == nil {
		return
	}
	checkMaintainers(c, root)
	if pid, id := lookup(vals["parent"], "id"), vals["id"]; pid != nil && id != nil && pid.Value == id.Value && pid.Tag == "!!str" {
		c.errorf(pid, nil, "a model cannot be its own parent (parent.id equals id %q)", id.Value)
	}
	tensors := collectTensors(root)
	checkTensorIDs(c, tensors)
	for _, t := range tensors {
		checkTensorAxes(c, t)
		checkProcAxes(c, t)
	}
	checkSizeRefs(c, tensors)
	checkProcRefs(c, tensors)
	insertEnsureDtype(root)
}

var linkedResourceRule = objectRule([]field{
	{key: "id", required: true, check: resourceIDRule},
	{key: "version", check: versionRule},
}, false)

func runModeRule(c *checker, n *yaml.Node, p path) {
	vals := c.object(n, p, []field{
		{key: "name", required: true, check: anyStr},
		{key: "kwargs", check: mapRule},
	}, false)
	if vals == nil {
		return
	}
	name := ""
	if nn := vals["name"]; nn != nil {
		name = nn.Value
	}
	c.warnf(Warning, n, p, "Run mode '%s' has limited support across consumer softwares.", name)
	if name != "deepimagej" {
		c.warnf(Warning, vals["name"], p.k("name"), "Unknown run mode '%s'.", name)
	}
}

func trainingDataRule(c *checker, n *yaml.Node, p path) {
	if n.Kind == yaml.MappingNode && lookup(n, "type") != nil {
		// an inline dataset description
		fv := lookup(n, "format_version")
		if fv != nil && strings.HasPrefix(fv.Value, "0.2") {
			upgradeGeneric02(n)
			sub := &checker{rep: &Report{}, opts: c.opts, last: n}
			validateGeneric02(sub, n, "dataset")
			c.adopt(sub, p)
			return
		}
		sub := &checker{rep: &Report{}, opts: c.opts, last: n}
		validateGeneric03(sub, n, "dataset")
		c.adopt(sub, p)
		return
	}
	if n.Kind == yaml.MappingNode {
		moveVersionNumber(n)
	}
	linkedResourceRule(c, n, p)
}

// adopt takes the problems of a nested validation, prefixing their paths.
func (c *checker) adopt(sub *checker, p path) {
	prefix := p.String()
	for _, e := range sub.rep.Errors {
		e.Loc = strings.TrimSuffix(prefix+"."+e.Loc, ".")
		c.rep.Errors = append(c.rep.Errors, e)
	}
	for _, w := range sub.rep.Warnings {
		w.Loc = strings.TrimSuffix(prefix+"."+w.Loc, ".")
		c.rep.Warnings = append(c.rep.Warnings, w)
	}
	c.files = append(c.files, sub.files...)
}

// --- tensors -------------------------------------------------------------------

func inputTensorRule(c *checker, n *yaml.Node, p path)  { tensorRule(c, n, p, true) }
func outputTensorRule(c *checker, n *yaml.Node, p path) { tensorRule(c, n, p, false) }

func tensorRule(c *checker, n *yaml.Node, p path, input bool) {
	fields := []field{
		{key: "id", check: tensorIDRule},
		{key: "description", check: strRule(0, 128)},
		{key: "axes", required: true, check: listRule(1, axisRule(input))},
		{key: "test_tensor", fair: true, check: fileDescr(npyFile)},
		{key: "sample_tensor", fair: true, check: fileDescr(imageFile)},
		{key: "data", check: dataRule},
	}
	if input {
		fields = append(fields,
			field{key: "optional", check: boolRule},
			field{key: "preprocessing", check: listRule(0, procRule(true))})
	} else {
		fields = append(fields, field{key: "postprocessing", check: listRule(0, procRule(false))})
	}
	c.object(n, p, fields, false)
}

// axisRule checks one axis, discriminated by its type.
func axisRule(input bool) check {
	return func(c *checker, n *yaml.Node, p path) {
		if n.Kind != yaml.MappingNode {
			c.errorf(n, p, "expected an axis (a mapping with 'type'), found %s", kindName(n))
			return
		}
		tn := lookup(n, "type")
		if tn == nil {
			c.errorf(n, p.k("type"), "an axis needs a 'type': batch, channel, index, time or space")
			return
		}
		typ, ok := c.str(tn, p.k("type"))
		if !ok {
			return
		}
		common := []field{{key: "type", required: true}, {key: "description", check: strRule(0, 128)}}
		switch typ {
		case "batch":
			c.object(n, p, append(common,
				field{key: "id", check: batchIDRule},
				field{key: "size", check: nullable(intRule(1, 1))}), false)
		case "channel":
			c.object(n, p, append(common,
				field{key: "id", check: axisIDRule(false)},
				field{key: "channel_names", required: true, check: listRule(1, identifier)}), false)
		case "index":
			sz := inputSizeRule
			if !input {
				sz = outputIndexSizeRule
			}
			fs := append(common, field{key: "id", check: axisIDRule(false)}, field{key: "size", required: true, check: sz})
			if input {
				fs = append(fs, field{key: "concatenable", check: boolRule})
			}
			c.object(n, p, fs, false)
		case "time", "space":
			units := timeUnits
			if typ == "space" {
				units = spaceUnits
			}
			fs := append(common,
				field{key: "id", check: axisIDRule(false)},
				field{key: "unit", check: nullable(enumRule(units...))},
				field{key: "scale", check: floatRule(0, true, math.Inf(1), false)})
			switch {
			case input:
				fs = append(fs, field{key: "size", required: true, check: inputSizeRule}, field{key: "concatenable", check: boolRule})
			case lookup(n, "halo") != nil:
				fs = append(fs, field{key: "halo", required: true, check: intRule(1, maxInt)}, field{key: "size", required: true, check: sizeRefRule})
			default:
				fs = append(fs, field{key: "size", required: true, check: outputSizeRule})
			}
			c.object(n, p, fs, false)
		default:
			c.errorf(tn, p.k("type"), "unknown axis type %q; use batch, channel, index, time or space", clip(typ, 40))
		}
	}
}

func batchIDRule(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if ok && s != "batch" && s != "b" {
		c.errorf(n, p, "a batch axis has the id 'batch', not %q", clip(s, 40))
	}
	if ok {
		n.Value = "batch"
	}
}

// inputSizeRule: int > 0 | ParameterizedSize | SizeReference.
func inputSizeRule(c *checker, n *yaml.Node, p path) {
	if n.Kind == yaml.MappingNode {
		if lookup(n, "step") != nil || lookup(n, "min") != nil {
			c.object(n, p, []field{{key: "min", required: true, check: intRule(1, maxInt)}, {key: "step", required: true, check: intRule(1, maxInt)}}, false)
			return
		}
		sizeRefRule(c, n, p)
		return
	}
	intRule(1, maxInt)(c, n, p)
}

// outputSizeRule: int > 0 | SizeReference.
func outputSizeRule(c *checker, n *yaml.Node, p path) {
	if n.Kind == yaml.MappingNode {
		sizeRefRule(c, n, p)
		return
	}
	intRule(1, maxInt)(c, n, p)
}

// outputIndexSizeRule: int > 0 | SizeReference | DataDependentSize.
func outputIndexSizeRule(c *checker, n *yaml.Node, p path) {
	if n.Kind == yaml.MappingNode && lookup(n, "tensor_id") == nil && lookup(n, "axis_id") == nil {
		vals := c.object(n, p, []field{{key: "min", check: intRule(1, maxInt)}, {key: "max", check: intRule(2, maxInt)}}, false)
		if vals != nil {
			lo, ok1 := asInt(vals["min"])
			if !ok1 {
				lo = 1
			}
			if hi, ok := asInt(vals["max"]); ok && lo >= hi {
				c.errorf(n, p, "min (%d) must be smaller than max (%d)", lo, hi)
			}
		}
		return
	}
	outputSizeRule(c, n, p)
}

func sizeRefRule(c *checker, n *yaml.Node, p path) {
	c.object(n, p, []field{
		{key: "tensor_id", required: true, check: tensorIDRule},
		{key: "axis_id", required: true, check: axisIDRule(true)},
		{key: "offset", check: strictIntRule},
	}, false)
}

// strictIntRule accepts only YAML integers (SizeReference.offset is strict).
func strictIntRule(c *checker, n *yaml.Node, p path) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		return
	}
	c.errorf(n, p, "expected an integer, found %s", kindName(n))
}

// --- data descriptions -------------------------------------------------------------

func dataRule(c *checker, n *yaml.Node, p path) {
	if n.Kind != yaml.SequenceNode {
		dataDescrRule(c, n, p)
		return
	}
	if len(n.Content) == 0 {
		c.errorf(n, p, "a per-channel data list must not be empty")
		return
	}
	first := ""
	for i, d := range n.Content {
		dataDescrRule(c, d, p.i(i))
		t := dataType(d)
		if i == 0 {
			first = t
		} else if t != first {
			c.errorf(d, p, "all entries of a per-channel data list need the same type; entry 0 is %s, entry %d is %s", first, i, t)
		}
	}
}

// dataType returns the effective dtype of one data description.
func dataType(d *yaml.Node) string {
	if t := lookup(d, "type"); t != nil && t.Tag == "!!str" {
		return t.Value
	}
	if lookup(d, "values") != nil {
		return "uint8"
	}
	return "float32"
}

var dtypeLimits = map[string][2]float64{
	"float32": {-3.4028235e38, 3.4028235e38}, "float64": {-math.MaxFloat64, math.MaxFloat64},
	"uint8": {0, 255}, "int8": {-128, 127}, "uint16": {0, 65535}, "int16": {-32768, 32767},
	"uint32": {0, 4294967295}, "int32": {-2147483648, 2147483647},
	"uint64": {0, 18446744073709551615}, "int64": {-9223372036854775808, 9223372036854775807},
}

func dataDescrRule(c *checker, n *yaml.Node, p path) {
	if n.Kind != yaml.MappingNode {
		c.errorf(n, p, "expected a data description (a mapping), found %s", kindName(n))
		return
	}
	if lookup(n, "values") != nil {
		vals := c.object(n, p, []field{
			{key: "type", check: enumRule(dtypes05Bool...)},
			{key: "values", required: true, check: listRule(1, nil)},
			{key: "unit", check: nullable(unitRule)},
		}, false)
		if vals != nil {
			checkNominalValues(c, vals["values"], dataType(n), p.k("values"))
		}
		return
	}
	c.object(n, p, []field{
		{key: "type", check: enumRule(dtypes05...)},
		{key: "range", check: rangeRule},
		{key: "unit", check: unitRule},
		{key: "scale", check: anyNumber},
		{key: "offset", check: nullable(anyNumber)},
	}, false)
}

func unitRule(c *checker, n *yaml.Node, p path) {
	if n.Tag == "!!str" && n.Value == "arbitrary unit" {
		return
	}
	siUnitRule(c, n, p)
}

// infWords are the strings the reference replaces by null in a data range
// (v0_5.py IntervalOrRatioDataDescr._replace_inf); other spellings of
// infinity ("Infinity", "+inf") are read as numbers and refused as not
// finite.
var infWords = map[string]bool{"inf": true, "-inf": true, ".inf": true, "-.inf": true}

// rangeRule checks [min|null, max|null]; infinite bounds become null with a
// warning.
func rangeRule(c *checker, n *yaml.Node, p path) {
	items, ok := c.list(n, p)
	if !ok {
		return
	}
	if len(items) != 2 {
		c.errorf(n, p, "a range has two entries [min, max] (null for no bound), found %d", len(items))
		return
	}
	for i, it := range items {
		if isNull(it) {
			continue
		}
		if f, ok := asFloat(it); ok && math.IsInf(f, 0) && (it.Tag != "!!str" || infWords[it.Value]) {
			c.warnf(Warning, it, p.i(i), "replaced 'inf' value with null")
			*it = *nullNode()
			continue
		}
		c.number(it, p.i(i))
	}
}

func checkNominalValues(c *checker, n *yaml.Node, typ string, p path) {
	if n == nil || n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return
	}
	kind := func(v *yaml.Node) string {
		switch v.Tag {
		case "!!int", "!!float", "!!bool", "!!str":
			return v.Tag[2:]
		}
		return "other"
	}
	k0 := kind(n.Content[0])
	for i, v := range n.Content {
		if kind(v) != k0 || k0 == "other" {
			c.errorf(v, p.i(i), "values must be all integers, all numbers, all booleans or all strings")
			return
		}
	}
	switch {
	case typ == "bool":
		if k0 != "bool" {
			c.errorf(n, p, "data type 'bool' incompatible with values %s", listPreview(n))
		}
	case k0 == "str":
		if !strings.HasPrefix(typ, "uint") {
			c.errorf(n, p, "data type '%s' incompatible with values %s: string values need an unsigned integer type (they label 0…N-1)", typ, listPreview(n))
		}
	case k0 == "bool":
		c.errorf(n, p, "data type '%s' incompatible with values %s", typ, listPreview(n))
	default:
		lim := dtypeLimits[typ]
		for _, v := range n.Content {
			f, _ := asFloat(v)
			if (k0 == "float" && !strings.HasPrefix(typ, "float")) || f < lim[0] || f > lim[1] {
				c.errorf(n, p, "data type '%s' incompatible with values %s", typ, listPreview(n))
				return
			}
		}
	}
}

func listPreview(n *yaml.Node) string {
	var parts []string
	for i, v := range n.Content {
		if i == 5 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, v.Value)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// --- weights -------------------------------------------------------------------------

func weightsRule05(c *checker, n *yaml.Node, p path) {
	fields := make([]field, len(WeightFormats))
	for i, f := range WeightFormats {
		fields[i] = field{key: f, check: weightsEntryRule05(f)}
	}
	vals := c.object(n, p, fields, false)
	if vals == nil {
		return
	}
	present := []string{}
	for _, f := range WeightFormats {
		if !isNull(vals[f]) {
			present = append(present, f)
		}
	}
	if len(present) == 0 {
		c.errorf(n, p, "Missing weights entry: give at least one weight format (%s)", strings.Join(WeightFormats, ", "))
		return
	}
	roots := 0
	for _, f := range present {
		par := lookup(vals[f], "parent")
		if isNull(par) {
			roots++
			continue
		}
		if par.Value == f {
			c.errorf(par, p.k(f), "Weights entry can't be it's own parent.")
			continue
		}
		found := false
		for _, g := range present {
			found = found || g == par.Value
		}
		if !found {
			c.errorf(par, p, "`weights.%s.parent=%s` not in specified weight formats: %s", f, par.Value, strings.Join(present, ", "))
		}
	}
	if roots != 1 {
		c.warnf(Warning, n, p, "Exactly one weights entry may not specify the `parent` field (got %d). That entry is considered the original set of model weights. Other weight formats are created through conversion of the orignal or already converted weights. They have to reference the weights format they were converted from as their `parent`.", roots)
	}
}

func weightsEntryRule05(format string) check {
	return func(c *checker, n *yaml.Node, p path) {
		fs := []field{
			{key: "source", required: true, check: anyFile.rule},
			{key: "sha256", check: sha256Rule},
			{key: "authors", check: listRule(0, authorRule)},
			{key: "parent", check: enumRule(WeightFormats...)},
			{key: "comment", check: anyStr},
		}
		switch format {
		case "keras_hdf5", "tensorflow_js":
			fs = append(fs, field{key: "tensorflow_version", required: true, check: versionRule})
		case "tensorflow_saved_model_bundle":
			fs = append(fs, field{key: "tensorflow_version", required: true, check: versionRule},
				field{key: "dependencies", check: fileDescr(condaFile)})
		case "onnx":
			fs = append(fs, field{key: "opset_version", required: true, check: intRule(7, maxInt)},
				field{key: "external_data", check: fileDescr(fileSource{suffixes: []string{".data"}, caseSensitive: true, noReserved: true})})
		case "pytorch_state_dict":
			fs = append(fs, field{key: "architecture", required: true, check: architectureRule},
				field{key: "pytorch_version", required: true, check: versionRule},
				field{key: "dependencies", check: fileDescr(condaFile)})
		case "torchscript":
			fs = append(fs, field{key: "pytorch_version", required: true, check: versionRule})
		}
		vals := c.object(n, p, fs, false)
		if vals == nil {
			return
		}
		c.hashRef(n, "source", "sha256")
		if ed := vals["external_data"]; ed != nil {
			src, es := lookup(ed, "source"), vals["source"]
			if src != nil && es != nil && pathBase(src.Value) == pathBase(es.Value) {
				c.errorf(src, p.k("external_data").k("source"), "the external data file must have another name than the weights file")
			}
		}
	}
}

func architectureRule(c *checker, n *yaml.Node, p path) {
	if n.Kind == yaml.MappingNode && lookup(n, "import_from") != nil {
		c.object(n, p, []field{
			{key: "import_from", required: true, check: anyStr},
			{key: "callable", required: true, check: identifier},
			{key: "kwargs", check: mapRule},
		}, false)
		return
	}
	vals := c.object(n, p, []field{
		{key: "source", required: true, check: anyFile.rule},
		{key: "sha256", check: sha256Rule},
		{key: "callable", required: true, check: identifier},
		{key: "kwargs", check: mapRule},
	}, false)
	if vals != nil {
		c.hashRef(n, "source", "sha256")
	}
}

// --- config --------------------------------------------------------------------------

func modelConfigRule(c *checker, n *yaml.Node, p path) {
	if n.Kind != yaml.MappingNode {
		c.errorf(n, p, "expected a mapping, found %s", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if k == "bioimageio" {
			c.object(v, p.k(k), bioimageioConfigFields, true)
		}
	}
}

var reproTolRule = objectRule([]field{
	{key: "relative_tolerance", check: floatRule(0, false, 0.01, false)},
	{key: "absolute_tolerance", check: floatRule(0, false, math.Inf(1), false)},
	{key: "mismatched_elements_per_million", check: intRule(0, 1000)},
	{key: "output_ids", check: listRule(0, tensorIDRule)},
	{key: "weights_formats", check: listRule(0, enumRule(WeightFormats...))},
}, true)

var bioimageioConfigFields = []field{
	{key: "reproducibility_tolerance", check: listRule(0, reproTolRule)},
	{key: "funded_by", check: anyStr},
	{key: "architecture_type", check: nullable(strRule(0, 32))},
	{key: "architecture_description", check: nullable(anyStr)},
	{key: "modality", check: nullable(anyStr)},
	{key: "target_structure", check: listRule(0, anyStr)},
	{key: "task", check: nullable(anyStr)},
	{key: "new_version", check: nullable(resourceIDRule)},
	{key: "out_of_scope_use", check: nullable(anyStr)},
	{key: "bias_risks_limitations", check: objectRule([]field{
		{key: "known_biases", check: anyStr}, {key: "risks", check: anyStr},
		{key: "limitations", check: nullable(anyStr)}, {key: "recommendations", check: anyStr},
	}, true)},
	{key: "model_parameter_count", check: nullable(intRule(0, maxInt))},
	{key: "training", check: objectRule(nil, true)},
	{key: "inference_time", check: nullable(anyStr)},
	{key: "memory_requirements_inference", check: nullable(anyStr)},
	{key: "memory_requirements_training", check: nullable(anyStr)},
	{key: "evaluations", check: listRule(0, evaluationRule)},
	{key: "environmental_impact", check: objectRule(nil, true)},
}

func evaluationRule(c *checker, n *yaml.Node, p path) {
	vals := c.object(n, p, []field{
		{key: "model_id", check: nullable(resourceIDRule)},
		{key: "dataset_id", required: true, check: resourceIDRule},
		{key: "dataset_source", required: true, check: httpURLRule},
		{key: "dataset_role", required: true, check: enumRule("train", "validation", "test", "independent", "unknown")},
		{key: "sample_count", required: true, check: intRule(0, maxInt)},
		{key: "evaluation_factors", required: true, check: listRule(0, strRule(0, 16))},
		{key: "evaluation_factors_long", required: true, check: listRule(0, anyStr)},
		{key: "metrics", required: true, check: listRule(0, strRule(0, 16))},
		{key: "metrics_long", required: true, check: listRule(0, anyStr)},
		{key: "results", required: true, check: listRule(0, listRule(0, nil))},
		{key: "results_summary", check: nullable(anyStr)},
	}, true)
	if vals == nil {
		return
	}
	ln := func(k string) int {
		if v := vals[k]; v != nil && v.Kind == yaml.SequenceNode {
			return len(v.Content)
		}
		return -1
	}
	if a, b := ln("evaluation_factors"), ln("evaluation_factors_long"); a >= 0 && b >= 0 && a != b {
		c.errorf(n, p.k("evaluation_factors_long"), "evaluation_factors_long needs one entry per evaluation factor (%d), has %d", a, b)
	}
	if a, b := ln("metrics"), ln("metrics_long"); a >= 0 && b >= 0 && a != b {
		c.errorf(n, p.k("metrics_long"), "metrics_long needs one entry per metric (%d), has %d", a, b)
	}
	if r := vals["results"]; r != nil && r.Kind == yaml.SequenceNode {
		if m := ln("metrics"); m >= 0 && len(r.Content) != m {
			c.errorf(r, p.k("results"), "results needs one row per metric (%d), has %d", m, len(r.Content))
		}
		f := ln("evaluation_factors")
		for i, row := range r.Content {
			if row.Kind == yaml.SequenceNode && f >= 0 && len(row.Content) != f {
				c.errorf(row, p.k("results").i(i), "each results row needs one column per evaluation factor (%d), has %d", f, len(row.Content))
			}
		}
	}
}

func pathBase(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		return s[i+1:]
	}
	return s
}

// fmtAxis names an axis for messages.
func fmtAxis(t, a string) string { return fmt.Sprintf("%s.%s", t, a) }
