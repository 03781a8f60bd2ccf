package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file upgrades model descriptions of format 0.3.x and 0.4.x to 0.4.10
// and validates them (reference §1.3, §13 "Model 0.4.10 warnings", §15).
//
// Like the reference, every 0.4 node forbids unknown keys except
// attachments and config; the real descriptions of the public collection
// all comply.

// --- upgrade chain -------------------------------------------------------------------

// upgradeModel04 applies the 0.3.x/0.4.x → 0.4.10 upgrade chain of the
// reference in place (model/_v0_3_converter.py, _v0_4_converter.py). Each
// step runs only for the exact format versions it was written for, so a
// 0.3 version the chain does not know (0.3.7 …) skips the structural steps
// and is then validated as it stands. Moved values keep their YAML
// positions. Documents of a later minor version are left alone.
func upgradeModel04(root *yaml.Node) {
	fvNode := lookup(root, "format_version")
	if fvNode == nil || fvNode.Tag != "!!str" {
		return
	}
	key, bad := versionKey(fvNode.Value)
	if bad != "" || key[0] != 0 || key[1] > 4 {
		return
	}
	fv := strings.TrimSpace(fvNode.Value)
	if key[1] < 4 {
		fv = upgradeModel03(root, fv)
	}
	if fv == "0.4.0" {
		moveRootDependencies(root)
		fv = "0.4.1"
	}
	switch fv {
	case "0.4.1", "0.4.2", "0.4.3", "0.4.4":
		unwrapParentURI(root)
		fv = "0.4.5"
	}
	switch fv {
	case "0.4.5", "0.4.6":
		removeSlashesFromNames(root)
		fv = "0.4.7"
	}
	switch fv {
	case "0.4.7", "0.4.8":
		fv = "0.4.9"
	}
	if fv == "0.4.9" {
		nicknameToID(root)
		fv = "0.4.10"
	}
	fvNode.Value = fv
	stripCiteDOIPrefixes(root)
	stripGithubPrefixes(root)
	dropEmptyConfig(root)
}

// upgradeModel03 runs the 0.3.0 → 0.4.0 steps and returns the version
// reached ("0.4.0" unless fv is a 0.3 version the chain does not know).
func upgradeModel03(root *yaml.Node, fv string) string {
	if fv == "0.3.0" {
		fv = "0.3.1"
	}
	if fv == "0.3.1" {
		upgradeModel031(root)
		fv = "0.3.2"
	}
	if fv == "0.3.2" {
		for _, out := range seqItems(lookup(root, "outputs")) {
			if shape := lookup(out, "shape"); shape != nil && shape.Kind == yaml.MappingNode {
				rename(shape, "reference_input", "reference_tensor")
			}
		}
		fv = "0.3.3"
	}
	switch fv {
	case "0.3.3", "0.3.4", "0.3.5":
		fv = "0.3.6"
	}
	if fv != "0.3.6" {
		return fv
	}
	dropEmptyConfig(root)
	del(root, "language")
	del(root, "framework")
	weights := lookup(root, "weights")
	arch, archSha, kwargs := keyAndValue(root, "source"), keyAndValue(root, "sha256"), keyAndValue(root, "kwargs")
	del(root, "source")
	del(root, "sha256")
	del(root, "kwargs")
	if sd := lookup(weights, "pytorch_state_dict"); sd != nil && sd.Kind == yaml.MappingNode {
		arch.setInto(sd, "architecture")
		archSha.setInto(sd, "architecture_sha256")
		kwargs.setInto(sd, "kwargs")
	}
	if weights != nil && weights.Kind == yaml.MappingNode && lookup(weights, "pytorch_script") != nil {
		ts := keyAndValue(weights, "pytorch_script")
		del(weights, "pytorch_script")
		ts.setInto(weights, "torchscript")
	}
	return "0.4.0"
}

// upgradeModel031 is the 0.3.1 → 0.3.2 step: author lists of plain names
// become {name} mappings, updated from config.future["0.3.2"], whose
// version is moved to the root.
func upgradeModel031(root *yaml.Node) {
	set(root, "type", strNode("model"))
	var future *yaml.Node
	if f := lookup(lookup(root, "config"), "future"); f != nil && f.Kind == yaml.MappingNode {
		future = del(f, "0.3.2")
	}
	namesToPersons(lookup(root, "authors"), lookup(future, "authors"))
	namesToPersons(lookup(root, "packaged_by"), lookup(future, "packaged_by"))
	if weights := lookup(root, "weights"); weights != nil && weights.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(weights.Content); i += 2 {
			wf, entry := weights.Content[i].Value, weights.Content[i+1]
			namesToPersons(lookup(entry, "authors"), lookup(lookup(lookup(future, "weights"), wf), "authors"))
		}
	}
	if v := lookup(future, "version"); v != nil {
		set(root, "version", v)
	}
}

// namesToPersons rewrites plain-string entries of list to {name: …} and
// merges the mappings of updates into the entries pairwise.
func namesToPersons(list, updates *yaml.Node) {
	items := seqItems(list)
	for _, it := range items {
		if it.Kind == yaml.ScalarNode && it.Tag == "!!str" {
			name := *it
			*it = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: it.Line, Column: it.Column,
				Content: []*yaml.Node{posStr("name", &name), &name}}
		}
	}
	for i, u := range seqItems(updates) {
		if i >= len(items) || u.Kind != yaml.MappingNode || items[i].Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(u.Content); j += 2 {
			set(items[i], u.Content[j].Value, u.Content[j+1])
		}
	}
}

// moveRootDependencies is the 0.4.0 → 0.4.1 step: the root dependencies
// move into the pytorch_state_dict weights entry (and are dropped when
// there is none).
func moveRootDependencies(root *yaml.Node) {
	deps := keyAndValue(root, "dependencies")
	del(root, "dependencies")
	if deps.val == nil || isEmpty(deps.val) {
		return
	}
	if sd := lookup(lookup(root, "weights"), "pytorch_state_dict"); sd != nil && sd.Kind == yaml.MappingNode {
		deps.setInto(sd, "dependencies")
	}
}

// unwrapParentURI is the 0.4.4 → 0.4.5 step: parent {uri: X} becomes X; any
// other parent is dropped.
func unwrapParentURI(root *yaml.Node) {
	p := keyAndValue(root, "parent")
	del(root, "parent")
	if p.val != nil && p.val.Kind == yaml.MappingNode {
		if uri := lookup(p.val, "uri"); uri != nil {
			p.val = uri
			p.setInto(root, "parent")
		}
	}
}

var slashRemover = strings.NewReplacer("/", "", `\`, "")

// removeSlashesFromNames is the 0.4.6 → 0.4.7 step.
func removeSlashesFromNames(root *yaml.Node) {
	if n := lookup(root, "name"); n != nil && n.Tag == "!!str" {
		n.Value = slashRemover.Replace(n.Value)
	}
	for _, group := range []string{"authors", "maintainers"} {
		for _, person := range seqItems(lookup(root, group)) {
			if n := lookup(person, "name"); n != nil && n.Tag == "!!str" {
				n.Value = slashRemover.Replace(n.Value)
			}
		}
	}
}

// nicknameToID is the 0.4.9 → 0.4.10 step: config.bioimageio.nickname
// becomes the id and nickname_icon the id_emoji (replacing given values).
func nicknameToID(root *yaml.Node) {
	bio := lookup(lookup(root, "config"), "bioimageio")
	if bio == nil || bio.Kind != yaml.MappingNode {
		return
	}
	if nick := lookup(bio, "nickname"); !isNull(nick) {
		set(root, "id", deepCopy(nick))
	}
	if icon := lookup(bio, "nickname_icon"); !isNull(icon) {
		set(root, "id_emoji", deepCopy(icon))
	}
}

// stripCiteDOIPrefixes removes https://doi.org/ (and similar) prefixes
// from cite[*].doi.
func stripCiteDOIPrefixes(root *yaml.Node) {
	for _, e := range seqItems(lookup(root, "cite")) {
		stripDOIPrefix(lookup(e, "doi"))
	}
}

// stripGithubPrefixes removes https://github.com/ from the github_user of
// authors and maintainers.
func stripGithubPrefixes(root *yaml.Node) {
	for _, group := range []string{"authors", "maintainers"} {
		for _, person := range seqItems(lookup(root, group)) {
			if g := lookup(person, "github_user"); g != nil && g.Tag == "!!str" {
				g.Value = strings.TrimPrefix(g.Value, "https://github.com/")
			}
		}
	}
}

// dropEmptyConfig removes an empty config.future, then an empty config.
func dropEmptyConfig(root *yaml.Node) {
	cfg := lookup(root, "config")
	if cfg == nil || cfg.Kind != yaml.MappingNode {
		return
	}
	if f := lookup(cfg, "future"); f != nil && f.Kind == yaml.MappingNode && len(f.Content) == 0 {
		del(cfg, "future")
	}
	if len(cfg.Content) == 0 {
		del(root, "config")
	}
}

// kv is a mapping entry taken out of one mapping to be put into another.
type kv struct{ key, val *yaml.Node }

func keyAndValue(m *yaml.Node, key string) kv { return kv{keyNode(m, key), lookup(m, key)} }

// setInto stores the value under key in m; the new key node takes the
// position of the old one. No-op for an absent value.
func (e kv) setInto(m *yaml.Node, key string) {
	if e.val == nil {
		return
	}
	k := strNode(key)
	if e.key != nil {
		k.Line, k.Column = e.key.Line, e.key.Column
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = e.val
			return
		}
	}
	m.Content = append(m.Content, k, e.val)
}

// posStr returns a string node positioned at at.
func posStr(s string, at *yaml.Node) *yaml.Node {
	n := strNode(s)
	if at != nil {
		n.Line, n.Column = at.Line, at.Column
	}
	return n
}

// seqItems returns the items of a sequence node (nil for anything else).
func seqItems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// --- validation --------------------------------------------------------------------

var (
	tensorNameRule04 = strRule(1, 0, lowerIdentifierRule)
	npyFile04        = fileSource{suffixes: []string{".npy"}, caseSensitive: true, noReserved: true}
	inputDtypes04    = []string{"float32", "uint8", "uint16"}
	outputDtypes04   = []string{"float32", "float64", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "bool"}
)

// validateModel04 validates a model description of format 0.4.10 (after
// upgradeModel04): the fields of §15, then the rules between tensors.
func validateModel04(c *checker, root *yaml.Node) {
	fields := append(genericBase02(true),
		field{key: "id", check: nullable(resourceIDRule02)},
		field{key: "documentation", required: true, check: anyFile.rule},
		field{key: "inputs", required: true, check: listRule(1, inputTensorRule04)},
		field{key: "outputs", required: true, check: listRule(1, outputTensorRule04)},
		field{key: "license", required: true, check: licenseRule04},
		field{key: "packaged_by", check: listRule(0, personRule04)},
		field{key: "parent", check: nullable(linkedRule04)},
		field{key: "run_mode", check: nullable(runModeRule04)},
		field{key: "sample_inputs", check: listRule(0, anyFile.rule)},
		field{key: "sample_outputs", check: listRule(0, anyFile.rule)},
		field{key: "test_inputs", required: true, check: listRule(1, npyFile04.rule)},
		field{key: "test_outputs", required: true, check: listRule(1, npyFile04.rule)},
		field{key: "timestamp", required: true, check: datetimeRule},
		field{key: "training_data", check: nullable(trainingDataRule04)},
		field{key: "weights", required: true, check: weightsRule04},
	)
	discardParent04(c, root)
	if c.object(root, nil, fields, false) == nil {
		return
	}
	ts := collectTensors04(root)
	checkTensorNames04(c, ts)
	checkOutputShapes04(c, ts)
	checkProcRefs04(c, ts)
}

// licenseRule04: any string; ids outside the current SPDX list (deprecated
// ones included) are a WARNING.
func licenseRule04(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if ok && licenseStatus(s) != licenseCurrent {
		c.warnf(Warning, n, p, "Unknown license id '%s'.%s", s, licenseHint(s))
	}
}

// discardParent04 drops a parent mapping that is not a well-formed linked
// model {id, version_number?}, with an INFO saying so. The reference
// discards every mapping-valued parent of a 0.4 model unread (v0_4.py
// ModelDescr.ignore_url_parent, which removed the URL parents {uri,
// sha256} older files use), so no parent mapping is ever an error; zoo
// keeps the well-formed ones, which the 0.5 converter carries over.
// A parent that is not a mapping is left to the field rule.
func discardParent04(c *checker, root *yaml.Node) {
	par := lookup(root, "parent")
	if par == nil || par.Kind != yaml.MappingNode || linkedModel04OK(par) {
		return
	}
	var keys []string
	for i := 0; i < len(par.Content); i += 2 {
		keys = append(keys, par.Content[i].Value)
	}
	c.warnf(Info, par, path{"parent"}, "parent {%s} is not a linked model {id, version_number}; it is ignored, as format 0.4 ignores parent mappings (format 0.5 links a parent model by its bioimage.io id)", clip(strings.Join(keys, ", "), 60))
	del(root, "parent")
}

// linkedModel04OK reports whether n passes linkedRule04 without a problem.
func linkedModel04OK(n *yaml.Node) bool {
	sub := &checker{rep: &Report{}, opts: &Options{}, last: n}
	linkedRule04(sub, deepCopy(n), nil)
	return len(sub.rep.Errors) == 0
}

// linkedRule04 is a LinkedModel or LinkedDataset of format 0.2:
// {id, version_number?}.
var linkedRule04 = objectRule([]field{
	{key: "id", required: true, check: resourceIDRule02},
	{key: "version_number", check: nullable(intRule(math.MinInt64, maxInt))},
}, false)

func runModeRule04(c *checker, n *yaml.Node, p path) {
	vals := c.object(n, p, []field{
		{key: "name", required: true, check: anyStr},
		{key: "kwargs", check: mapRule},
	}, false)
	if name := vals["name"]; name != nil && name.Tag == "!!str" && name.Value != "deepimagej" {
		c.warnf(Warning, name, p.k("name"), "Unknown run mode '%s'.", name.Value)
	}
}

// trainingDataRule04: a linked dataset {id, version_number?} or an inline
// dataset description of format 0.2 (a mapping with a type).
func trainingDataRule04(c *checker, n *yaml.Node, p path) {
	if n.Kind == yaml.MappingNode && lookup(n, "type") != nil {
		upgradeGeneric02(n)
		sub := &checker{rep: &Report{}, opts: c.opts, last: n}
		validateGeneric02(sub, n, "dataset")
		c.adopt(sub, p)
		return
	}
	linkedRule04(c, n, p)
}

// --- tensors -------------------------------------------------------------------------

func inputTensorRule04(c *checker, n *yaml.Node, p path)  { tensorRule04(c, n, p, true) }
func outputTensorRule04(c *checker, n *yaml.Node, p path) { tensorRule04(c, n, p, false) }

// tensorRule04 checks one tensor's fields and the rules inside it: batch
// size 1 for inputs, halo and shape lengths, kwargs.axes ⊆ axes.
func tensorRule04(c *checker, n *yaml.Node, p path, input bool) {
	fields := []field{
		{key: "name", required: true, check: tensorNameRule04},
		{key: "description", check: anyStr},
		{key: "axes", required: true, check: axesLettersRule("bitczyx")},
		{key: "data_range", check: nullable(dataRangeRule04)},
	}
	procKey := "postprocessing"
	if input {
		procKey = "preprocessing"
		fields = append(fields,
			field{key: "data_type", required: true, check: enumRule(inputDtypes04...)},
			field{key: "shape", required: true, check: inputShapeRule04},
			field{key: "preprocessing", check: listRule(0, procRule04(true))})
	} else {
		fields = append(fields,
			field{key: "data_type", required: true, check: enumRule(outputDtypes04...)},
			field{key: "shape", required: true, check: outputShapeRule04},
			field{key: "halo", check: nullable(listRule(0, intRule(math.MinInt64, maxInt)))},
			field{key: "postprocessing", check: listRule(0, procRule04(false))})
	}
	vals := c.object(n, p, fields, false)
	if vals == nil {
		return
	}
	t := &tensor04{node: n, p: p, input: input}
	t.read()
	if t.axes == "" || t.shape.kind == shapeBad04 {
		return
	}
	if t.shape.kind != shapeImplicit04 && len(t.shape.sizes) != len(t.axes) {
		c.errorf(vals["shape"], p.k("shape"), "shape has %d entries but axes %q has %d letters; give one size per axis", len(t.shape.sizes), t.axes, len(t.axes))
	}
	if t.shape.kind == shapeImplicit04 && len(t.shape.scale) != len(t.axes) {
		c.errorf(vals["shape"], p.k("shape"), "shape.scale has %d entries but axes %q has %d letters; give one scale per axis", len(t.shape.scale), t.axes, len(t.axes))
	}
	if input {
		checkBatchSize04(c, t, vals["shape"])
	}
	if halo := vals["halo"]; halo != nil && halo.Kind == yaml.SequenceNode && len(halo.Content) > 0 && len(halo.Content) != t.shape.len() {
		c.errorf(halo, p, "halo has %d entries but shape has %d; halo has to have the same length as shape", len(halo.Content), t.shape.len())
	}
	checkKwargsAxes04(c, t, lookup(n, procKey), p.k(procKey))
}

// axesLettersRule: a string of unique letters from allowed.
func axesLettersRule(allowed string) check {
	return func(c *checker, n *yaml.Node, p path) {
		s, ok := c.str(n, p)
		if !ok {
			return
		}
		seen := map[rune]bool{}
		for _, r := range s {
			if !strings.ContainsRune(allowed, r) {
				c.errorf(n, p, "axes %q may only contain the letters %s, found %q", clip(s, 40), allowed, string(r))
				return
			}
			if seen[r] {
				c.errorf(n, p, "axes %q name axis %q twice; every letter may appear once", clip(s, 40), string(r))
				return
			}
			seen[r] = true
		}
	}
}

// dataRangeRule04: [min, max], two numbers; infinite values are allowed.
func dataRangeRule04(c *checker, n *yaml.Node, p path) {
	items, ok := c.list(n, p)
	if !ok {
		return
	}
	if len(items) != 2 {
		c.errorf(n, p, "data_range has two entries [min, max], found %d", len(items))
		return
	}
	for i, it := range items {
		f, ok := asFloat(it)
		if !ok {
			c.errorf(it, p.i(i), "expected a number, found %s", kindName(it))
			continue
		}
		if it.Tag == "!!str" {
			// The reference reads numeric strings ("-inf", "1e3") as numbers.
			c.warnf(Info, it, p.i(i), "the string %q is read as the number %s; write the number without quotes", clip(it.Value, 20), yamlFloat(f))
			it.Tag, it.Value, it.Style = "!!float", yamlFloat(f), 0
		}
	}
}

// yamlFloat writes f as a YAML float (.inf, -.inf and .nan for the special
// values).
func yamlFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case math.IsNaN(f):
		return ".nan"
	}
	return formatFloat(f)
}

var intList = listRule(1, intRule(math.MinInt64, maxInt))

// inputShapeRule04: a list of ints or {min: [int], step: [int]} of equal
// lengths.
func inputShapeRule04(c *checker, n *yaml.Node, p path) {
	if n.Kind != yaml.MappingNode {
		listRule(0, intRule(math.MinInt64, maxInt))(c, n, p)
		return
	}
	vals := c.object(n, p, []field{
		{key: "min", required: true, check: intList},
		{key: "step", required: true, check: intList},
	}, false)
	if lm, ls := seqItems(vals["min"]), seqItems(vals["step"]); lm != nil && ls != nil && len(lm) != len(ls) {
		c.errorf(n, p, "`min` and `step` required to have the same length (%d ≠ %d)", len(lm), len(ls))
	}
}

// outputShapeRule04: a list of ints or the implicit shape
// {reference_tensor, scale: [float|null], offset: [multiples of 0.5]}.
func outputShapeRule04(c *checker, n *yaml.Node, p path) {
	if n.Kind != yaml.MappingNode {
		listRule(0, intRule(math.MinInt64, maxInt))(c, n, p)
		return
	}
	vals := c.object(n, p, []field{
		{key: "reference_tensor", required: true, check: tensorNameRule04},
		{key: "scale", required: true, check: listRule(1, nullable(anyNumber))},
		{key: "offset", required: true, check: listRule(1, halfMultipleRule)},
	}, false)
	scale, offset := seqItems(vals["scale"]), seqItems(vals["offset"])
	if scale == nil || offset == nil {
		return
	}
	if len(scale) != len(offset) {
		c.errorf(n, p, "scale has %d entries but offset has %d; they need the same length", len(scale), len(offset))
		return
	}
	for i, s := range scale {
		if o, _ := asFloat(offset[i]); isNull(s) && o == 0 {
			c.errorf(offset[i], p, "`offset` must not be zero if `scale` is none/zero (a null scale adds an axis of length 2·offset)")
		}
	}
}

// halfMultipleRule: an int or a float that is a multiple of 0.5.
func halfMultipleRule(c *checker, n *yaml.Node, p path) {
	f, ok := c.number(n, p)
	if ok && f*2 != math.Trunc(f*2) {
		c.errorf(n, p, "an offset must be an integer or a multiple of 0.5, is %g", f)
	}
}

// checkBatchSize04: an input's batch axis has size 1 (min 1, step 0).
func checkBatchSize04(c *checker, t *tensor04, shape *yaml.Node) {
	b := strings.IndexByte(t.axes, 'b')
	if b < 0 || b >= len(t.shape.sizes) {
		return
	}
	if t.shape.kind == shapeParam04 && b < len(t.shape.step) && t.shape.step[b] != 0 {
		c.errorf(shape, t.p, "Input shape step has to be zero in the batch dimension (the batch dimension can always be increased, but `step` should specify how to increase the minimal shape to find the largest single batch shape)")
		return
	}
	if t.shape.sizes[b] != 1 {
		c.errorf(shape, t.p, "Input shape has to be 1 in the batch dimension b (it is %d)", t.shape.sizes[b])
	}
}

// checkKwargsAxes04: kwargs.axes of every step names axes of the tensor.
func checkKwargsAxes04(c *checker, t *tensor04, steps *yaml.Node, p path) {
	for i, s := range seqItems(steps) {
		axes := lookup(lookup(s, "kwargs"), "axes")
		if axes == nil || axes.Tag != "!!str" {
			continue
		}
		for _, r := range axes.Value {
			if !strings.ContainsRune(t.axes, r) {
				c.errorf(axes, t.p, "%s: `kwargs.axes` needs to be subset of axes: %q is not an axis of %q", p.i(i).k("kwargs").k("axes"), string(r), t.axes)
				break
			}
		}
	}
}

// --- processing ----------------------------------------------------------------------

var preprocNames04 = []string{"binarize", "clip", "scale_linear", "sigmoid", "zero_mean_unit_variance", "scale_range"}
var postprocNames04 = append(append([]string(nil), preprocNames04...), "scale_mean_variance")

var (
	czyxRule      = axesLettersRule("czyx")
	floatsOrFloat = func(c *checker, n *yaml.Node, p path) {
		if n.Kind == yaml.SequenceNode {
			listRule(0, anyNumber)(c, n, p)
			return
		}
		anyNumber(c, n, p)
	}
	meanStdRule = func(c *checker, n *yaml.Node, p path) {
		if n.Kind == yaml.SequenceNode {
			listRule(1, anyNumber)(c, n, p)
			return
		}
		anyNumber(c, n, p)
	}
	percentileMode = enumRule("per_dataset", "per_sample")
)

// procRule04 checks one processing step {name, kwargs}.
func procRule04(pre bool) check {
	names := postprocNames04
	if pre {
		names = preprocNames04
	}
	return func(c *checker, n *yaml.Node, p path) {
		name, ok := c.stepName(n, p, "name", names)
		if !ok {
			return
		}
		if name == "sigmoid" {
			c.object(n, p, []field{{key: "name", required: true}}, false)
			return
		}
		vals := c.object(n, p, []field{{key: "name", required: true}, {key: "kwargs", required: true}}, false)
		if kw := vals["kwargs"]; kw != nil {
			procKwargs04(c, name, kw, p.k("kwargs"))
		}
	}
}

func procKwargs04(c *checker, name string, kw *yaml.Node, p path) {
	switch name {
	case "binarize":
		c.object(kw, p, []field{{key: "threshold", required: true, check: anyNumber}}, false)
	case "clip":
		c.object(kw, p, []field{{key: "min", required: true, check: anyNumber}, {key: "max", required: true, check: anyNumber}}, false)
	case "scale_linear":
		scaleLinearKwargs04(c, kw, p)
	case "zero_mean_unit_variance":
		zmuvKwargs04(c, kw, p)
	case "scale_range":
		v := c.object(kw, p, []field{
			{key: "mode", required: true, check: percentileMode},
			{key: "axes", required: true, check: czyxRule},
			{key: "min_percentile", check: minPercentile},
			{key: "max_percentile", check: maxPercentile},
			{key: "eps", check: epsRule},
			{key: "reference_tensor", check: nullable(tensorNameRule04)},
		}, false)
		if v == nil {
			return
		}
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
	case "scale_mean_variance":
		c.object(kw, p, []field{
			{key: "mode", required: true, check: percentileMode},
			{key: "reference_tensor", required: true, check: tensorNameRule04},
			{key: "axes", check: nullable(czyxRule)},
			{key: "eps", check: epsRule},
		}, false)
	}
}

// scaleLinearKwargs04: {axes?, gain = 1, offset = 0}; a step that changes
// nothing is an error.
func scaleLinearKwargs04(c *checker, kw *yaml.Node, p path) {
	v := c.object(kw, p, []field{
		{key: "axes", check: nullable(czyxRule)},
		{key: "gain", check: floatsOrFloat},
		{key: "offset", check: floatsOrFloat},
	}, false)
	if v == nil {
		return
	}
	allEqual := func(n *yaml.Node, want float64) bool {
		for _, f := range numbersOf(n, want) {
			if f != want {
				return false
			}
		}
		return true
	}
	if allEqual(v["gain"], 1) && allEqual(v["offset"], 0) {
		c.errorf(kw, p, "Redundant linear scaling not allowed. Set `gain` != 1.0 and/or `offset` != 0.0.")
	}
}

// zmuvKwargs04: {mode = fixed, axes, mean?, std?, eps}; mean and std are
// required for mode fixed and forbidden otherwise.
func zmuvKwargs04(c *checker, kw *yaml.Node, p path) {
	v := c.object(kw, p, []field{
		{key: "mode", check: enumRule("fixed", "per_dataset", "per_sample")},
		{key: "axes", required: true, check: czyxRule},
		{key: "mean", check: nullable(meanStdRule)},
		{key: "std", check: nullable(meanStdRule)},
		{key: "eps", check: epsRule},
	}, false)
	if v == nil {
		return
	}
	mode := "fixed"
	if m := v["mode"]; m != nil && m.Tag == "!!str" {
		mode = m.Value
	}
	hasMean, hasStd := !isNull(v["mean"]), !isNull(v["std"])
	switch {
	case mode == "fixed" && (!hasMean || !hasStd):
		c.errorf(kw, p, "`mean` and `std` are required for `mode: fixed`.")
	case mode != "fixed" && (hasMean || hasStd):
		c.errorf(kw, p, "`mean` and `std` not allowed for `mode: %s`", mode)
	}
}

// --- weights -------------------------------------------------------------------------

// weightsRule04: at least one entry; 0.4 does not check that a parent
// exists nor that there is a single root entry.
func weightsRule04(c *checker, n *yaml.Node, p path) {
	fields := make([]field, len(WeightFormats))
	for i, f := range WeightFormats {
		fields[i] = field{key: f, check: nullable(weightsEntryRule04(f))}
	}
	vals := c.object(n, p, fields, false)
	if vals == nil {
		return
	}
	for _, f := range WeightFormats {
		if !isNull(vals[f]) {
			return
		}
	}
	c.errorf(n, p, "Missing weights entry: give at least one weight format (%s)", strings.Join(WeightFormats, ", "))
}

// personRule04 is an author given as a mapping: only the root authors
// list accepts plain strings.
var personRule04 = objectRule(personFields02(true, false), false)

func weightsEntryRule04(format string) check {
	return func(c *checker, n *yaml.Node, p path) {
		fs := []field{
			{key: "source", required: true, check: anyFile.rule},
			{key: "sha256", check: nullable(sha256Rule)},
			{key: "attachments", check: nullable(attachmentsRule02)},
			{key: "authors", check: nullable(listRule(0, personRule04))},
			{key: "dependencies", check: nullable(dependenciesRule04)},
			{key: "parent", check: nullable(enumRule(WeightFormats...))},
		}
		versionKey := ""
		switch format {
		case "keras_hdf5", "tensorflow_js", "tensorflow_saved_model_bundle":
			versionKey = "tensorflow_version"
			fs = append(fs, field{key: versionKey, check: nullable(versionRule)})
		case "onnx":
			versionKey = "opset_version"
			fs = append(fs, field{key: versionKey, check: nullable(intRule(7, maxInt))})
		case "pytorch_state_dict":
			versionKey = "pytorch_version"
			fs = append(fs,
				field{key: "architecture", required: true, check: architectureRule04},
				field{key: "architecture_sha256", check: nullable(sha256Rule)},
				field{key: "kwargs", check: mapRule},
				field{key: versionKey, check: nullable(versionRule)})
		case "torchscript":
			versionKey = "pytorch_version"
			fs = append(fs, field{key: versionKey, check: nullable(versionRule)})
		}
		vals := c.object(n, p, fs, false)
		if vals == nil {
			return
		}
		c.hashRef(n, "source", "sha256")
		if isNull(vals[versionKey]) {
			c.warnf(Alert, n, p.k(versionKey), "%s", missingVersionMsg(format))
		}
		if !isNull(vals["attachments"]) {
			c.warnf(Alert, vals["attachments"], p.k("attachments"), "Weights entry depends on additional attachments.")
		}
		if d := vals["dependencies"]; !isNull(d) {
			c.warnf(Warning, d, p.k("dependencies"), "Custom dependencies (%s) specified. Avoid this whenever possible to allow execution in a wider range of software environments.", d.Value)
		}
		if par := vals["parent"]; par != nil && par.Tag == "!!str" && par.Value == format {
			c.errorf(par, p, "Weights entry can't be it's own parent.")
		}
		if format == "pytorch_state_dict" {
			checkArchitectureSha04(c, vals, n, p)
		}
	}
}

func missingVersionMsg(format string) string {
	switch format {
	case "onnx":
		return "Missing ONNX opset version (aka ONNX opset number). Please specify the ONNX opset version these weights were created with."
	case "pytorch_state_dict", "torchscript":
		return "missing. Please specify the PyTorch version these weights were created with."
	}
	return "missing. Please specify the TensorFlow version these weights were created with."
}

// dependenciesRule04: "<manager>:<file>", e.g. conda:environment.yaml.
func dependenciesRule04(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	manager, file, found := strings.Cut(strings.TrimSpace(s), ":")
	if !found || manager == "" || file == "" {
		c.errorf(n, p, "%q is not '<dependency manager>:<file>' such as conda:environment.yaml", clip(s, 60))
		return
	}
	if isReservedName(file) {
		c.errorf(n, p, "%q is a reserved file name (it names a description); rename the file", file)
		return
	}
	c.fileRef(n, p, file)
}

// architecture04 is a parsed 0.4 architecture string: either from a file
// ("path/or/url.py:Callable") or from an importable module
// ("package.module.Callable").
type architecture04 struct {
	fromFile bool
	file     string // fromFile: the source file
	module   string // otherwise: the module path
	callable string
}

// parseArchitecture04 splits an architecture string the way the reference
// does: "file:callable" at the last ':', else "module.callable" at the last
// '.'. ok is false when neither form applies.
func parseArchitecture04(s string) (a architecture04, ok bool) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, ':'); i > 0 && i < len(s)-1 {
		return architecture04{fromFile: true, file: s[:i], callable: s[i+1:]}, true
	}
	if i := strings.LastIndexByte(s, '.'); i > 0 && i < len(s)-1 {
		return architecture04{module: s[:i], callable: s[i+1:]}, true
	}
	return architecture04{}, false
}

func architectureRule04(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	a, ok := parseArchitecture04(s)
	switch {
	case !ok:
		c.errorf(n, p, "%q is neither '<file>:<callable>' nor '<module>.<callable>'", clip(s, 60))
	case !isIdentifier(a.callable):
		c.errorf(n, p, "the callable %q of architecture %q is not a Python identifier", clip(a.callable, 40), clip(s, 60))
	case a.fromFile:
		if strings.HasPrefix(a.file, "http:") || strings.HasPrefix(a.file, "https:") {
			if msg := httpURLCheck(a.file); msg != "" {
				c.errorf(n, p, "%s", msg)
				return
			}
		} else if strings.HasPrefix(a.file, "/") {
			c.errorf(n, p, "the architecture file %q must be a relative path or an http(s) URL", a.file)
			return
		}
		c.fileRef(n, p, a.file)
	default:
		for _, part := range strings.Split(a.module, ".") {
			if !isIdentifier(part) {
				c.errorf(n, p, "the module %q of architecture %q is not a dotted Python module path", clip(a.module, 40), clip(s, 60))
				return
			}
		}
	}
}

// checkArchitectureSha04: architecture_sha256 is required for an
// architecture from a file and forbidden otherwise.
func checkArchitectureSha04(c *checker, vals map[string]*yaml.Node, n *yaml.Node, p path) {
	arch := vals["architecture"]
	if arch == nil || arch.Tag != "!!str" {
		return
	}
	a, ok := parseArchitecture04(arch.Value)
	if !ok {
		return
	}
	sha := vals["architecture_sha256"]
	switch {
	case a.fromFile && isNull(sha):
		c.errorf(n, p, "Missing required `architecture_sha256` for `architecture` with source file.")
	case !a.fromFile && !isNull(sha):
		c.errorf(sha, p, "Got `architecture_sha256` for architecture that does not have a source file.")
	}
}

// --- rules between tensors -------------------------------------------------------------

type shapeKind04 int

const (
	shapeBad04      shapeKind04 = iota // missing or malformed
	shapeFixed04                       // [int]
	shapeParam04                       // {min, step}
	shapeImplicit04                    // {reference_tensor, scale, offset}
)

// shape04 is a parsed 0.4 shape.
type shape04 struct {
	kind   shapeKind04
	sizes  []int64    // fixed sizes, or the minimum of a parameterized shape
	step   []int64    // parameterized shape
	ref    string     // implicit shape: reference tensor
	scale  []*float64 // implicit shape: nil = null (a new axis)
	offset []float64
}

func (s shape04) len() int {
	if s.kind == shapeImplicit04 {
		return len(s.scale)
	}
	return len(s.sizes)
}

// tensor04 is what the rules between tensors need of one tensor.
type tensor04 struct {
	node  *yaml.Node
	p     path
	input bool
	name  string
	axes  string
	shape shape04
	halo  []int64
}

func (t *tensor04) read() {
	if n := lookup(t.node, "name"); n != nil && n.Tag == "!!str" {
		t.name = n.Value
	}
	if a := lookup(t.node, "axes"); a != nil && a.Tag == "!!str" {
		t.axes = a.Value
	}
	t.shape = readShape04(lookup(t.node, "shape"))
	for _, h := range seqItems(lookup(t.node, "halo")) {
		v, _ := asInt(h)
		t.halo = append(t.halo, v)
	}
}

// ints reads a list of integers; ok is false if any entry is not one.
func ints(n *yaml.Node) ([]int64, bool) {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil, false
	}
	out := make([]int64, 0, len(n.Content))
	for _, it := range n.Content {
		v, ok := asInt(it)
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

func readShape04(n *yaml.Node) shape04 {
	if n == nil {
		return shape04{}
	}
	if n.Kind == yaml.SequenceNode {
		if v, ok := ints(n); ok {
			return shape04{kind: shapeFixed04, sizes: v}
		}
		return shape04{}
	}
	if n.Kind != yaml.MappingNode {
		return shape04{}
	}
	if ref := lookup(n, "reference_tensor"); ref != nil {
		s := shape04{kind: shapeImplicit04, ref: ref.Value}
		scale, offset := seqItems(lookup(n, "scale")), seqItems(lookup(n, "offset"))
		if len(scale) != len(offset) || len(scale) == 0 {
			return shape04{}
		}
		for i := range scale {
			o, ok := asFloat(offset[i])
			if !ok {
				return shape04{}
			}
			s.offset = append(s.offset, o)
			if isNull(scale[i]) {
				s.scale = append(s.scale, nil)
				continue
			}
			f, ok := asFloat(scale[i])
			if !ok {
				return shape04{}
			}
			s.scale = append(s.scale, &f)
		}
		return s
	}
	lo, ok1 := ints(lookup(n, "min"))
	st, ok2 := ints(lookup(n, "step"))
	if !ok1 || !ok2 || len(lo) != len(st) {
		return shape04{}
	}
	return shape04{kind: shapeParam04, sizes: lo, step: st}
}

func collectTensors04(root *yaml.Node) []*tensor04 {
	var out []*tensor04
	for _, key := range []string{"inputs", "outputs"} {
		for i, n := range seqItems(lookup(root, key)) {
			if n.Kind != yaml.MappingNode {
				continue
			}
			t := &tensor04{node: n, p: path{key, itoa(i)}, input: key == "inputs"}
			t.read()
			out = append(out, t)
		}
	}
	return out
}

// checkTensorNames04: names are unique within inputs, within outputs and
// across both.
func checkTensorNames04(c *checker, ts []*tensor04) {
	seen := map[string]*tensor04{}
	for _, t := range ts {
		if t.name == "" {
			continue
		}
		first, dup := seen[t.name]
		if !dup {
			seen[t.name] = t
			continue
		}
		// the reference checks names within inputs and within outputs
		// in validators of those fields, across both in one of the model
		where, loc := "across inputs/outputs", path(nil)
		if first.input == t.input {
			where, loc = "in "+t.p[0], t.p[:1]
		}
		c.errorf(lookup(t.node, "name"), loc, "Duplicate tensor descriptor names %s: %q is already the name of %s", where, t.name, first.p)
	}
}

// checkOutputShapes04: an implicit output shape refers to a known tensor
// with as many axes as it has non-null scales, and the minimal output
// shape minus twice the halo is at least 1 on every axis.
func checkOutputShapes04(c *checker, ts []*tensor04) {
	byName := map[string]*tensor04{}
	for _, t := range ts {
		if _, dup := byName[t.name]; !dup && t.name != "" {
			byName[t.name] = t
		}
	}
	for _, out := range ts {
		if out.input || out.shape.kind == shapeBad04 {
			continue
		}
		sp := out.p.k("shape")
		if out.shape.kind == shapeImplicit04 {
			ref := byName[out.shape.ref]
			refNode := lookup(lookup(out.node, "shape"), "reference_tensor")
			if ref == nil {
				c.errorf(refNode, nil, "%s: reference_tensor %q is not the name of any tensor", sp.k("reference_tensor"), out.shape.ref)
				continue
			}
			if ref.shape.kind == shapeBad04 {
				continue
			}
			nonNull := 0
			for _, s := range out.shape.scale {
				if s != nil {
					nonNull++
				}
			}
			if ref.shape.len() != nonNull {
				note := ""
				if nonNull != len(out.shape.scale) {
					note = fmt.Sprintf(" Note that expanded dimensions (`scale`: null) are not counted for %s's dimensionality here.", out.name)
				}
				c.errorf(refNode, nil, "Referenced tensor '%s' with %d dimensions does not match output tensor '%s' with %d dimensions.%s", out.shape.ref, ref.shape.len(), out.name, nonNull, note)
				continue
			}
		}
		minShape, ok := minShape04(out, byName, 0)
		if !ok {
			continue
		}
		halo := out.halo
		if len(halo) != len(minShape) {
			halo = make([]int64, len(minShape))
		}
		for i := range minShape {
			if minShape[i]-2*halo[i] < 1 {
				msg := ""
				if len(out.halo) > 0 {
					msg = fmt.Sprintf(" for halo %v", fmtInts(out.halo))
				}
				c.errorf(lookup(out.node, "shape"), nil, "Minimal shape %v of output %s is too small%s.", fmtInts(minShape), out.name, msg)
				break
			}
		}
	}
}

// minShape04 computes the smallest shape of t: fixed sizes, parameterized
// minima, or, for implicit shapes, int(ref·scale + 2·offset) from the
// reference's minimal shape with 1 inserted for null-scale axes.
func minShape04(t *tensor04, byName map[string]*tensor04, depth int) ([]int64, bool) {
	switch t.shape.kind {
	case shapeFixed04, shapeParam04:
		return t.shape.sizes, true
	case shapeImplicit04:
	default:
		return nil, false
	}
	ref := byName[t.shape.ref]
	if ref == nil || depth > len(byName) {
		return nil, false
	}
	refShape, ok := minShape04(ref, byName, depth+1)
	if !ok {
		return nil, false
	}
	out := make([]int64, len(t.shape.scale))
	j := 0
	for i, s := range t.shape.scale {
		rs, sc := int64(1), 0.0
		if s != nil {
			if j >= len(refShape) {
				return nil, false
			}
			rs, sc = refShape[j], *s
			j++
		}
		out[i] = int64(float64(rs)*sc + 2*t.shape.offset[i])
	}
	return out, true
}

func fmtInts(v []int64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatInt(x, 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// checkProcRefs04: a preprocessing reference_tensor names another input; a
// postprocessing one names an input.
func checkProcRefs04(c *checker, ts []*tensor04) {
	inputs := map[string]bool{}
	for _, t := range ts {
		if t.input {
			inputs[t.name] = true
		}
	}
	for _, t := range ts {
		key := "postprocessing"
		if t.input {
			key = "preprocessing"
		}
		for i, s := range seqItems(lookup(t.node, key)) {
			ref := lookup(lookup(s, "kwargs"), "reference_tensor")
			if ref == nil || ref.Tag != "!!str" {
				continue
			}
			p := t.p.k(key).i(i).k("kwargs").k("reference_tensor")
			switch {
			case !inputs[ref.Value]:
				c.errorf(ref, nil, "%s: '%s' not found in inputs; reference_tensor has to name an input tensor (%s)", p, ref.Value, strings.Join(keys(inputs), ", "))
			case t.input && ref.Value == t.name:
				c.errorf(ref, nil, "%s: invalid self reference for preprocessing of tensor %s", p, t.name)
			}
		}
	}
}
