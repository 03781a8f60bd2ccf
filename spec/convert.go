package spec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file converts descriptions to the latest format of their type:
// model 0.3/0.4 → 0.5.7 (reference §16) and dataset, application,
// notebook and generic 0.2 → 0.3.0 (§1.3, §17).
//
// The converters build new trees. Values taken over from the source are
// deep copies that keep their line and column, and new nodes take the
// position of the source node they derive from, so that problems found in
// the converted description point at the lines of the original file.

// ConvertModel04To05 converts a model description of format 0.3.x/0.4.x
// into a new tree of format 0.5.7; root is not modified. The upgrade chain
// to 0.4.10 runs first, so root may be as read from a file, but the
// conversion assumes a description that validates as 0.4 (validate it
// first): malformed values are copied as they are and left for the 0.5
// validation to report. The result is not validated; validating it also
// inserts the implied ensure_dtype steps (§5).
//
// The conversion fails, with every reason joined into one error, when the
// 0.4 description cannot be expressed in 0.5: an output axis with a halo
// and a parameterized size, processing axes leaving more than one
// complementary axis for lists of gains/means, lists where 0.5 needs a
// single value, a parameterized channel axis, or tensor fields too
// malformed to read.
//
// It follows the reference converter, including its quirks:
//   - the name loses every character outside A–Z a–z 0–9 _ + - ( ) and
//     space (replaced by spaces), so a 4-character name stays invalid;
//   - cite urls are copied, so a DOI given as url (stardist) fails the
//     0.5 HttpUrl rule;
//   - the sha256 of weights entries and of test/sample tensors is not
//     carried over (it is recomputed when files are checked);
//   - missing weights versions default to tensorflow 1.15, onnx opset 15
//     and pytorch 1.10;
//   - scale_range loses its mode and reference_tensor (per_dataset becomes
//     per-sample statistics); scale_mean_variance loses its mode;
//   - a channel axis sized by reference gets channel_names from the
//     reference's offset, which may be wrong;
//   - dependencies other than conda:… keep their manager prefix and then
//     fail the .yaml/.yml rule; other formats' dependencies and all
//     weights attachments are dropped.
//
// Deviations from the reference, so that every 0.4 model the reference
// runs (it runs them as 0.4) converts to a valid 0.5 description zoo runs:
//   - an output space or time axis with a halo and a fixed size, which
//     the reference cannot convert, is sized by reference to the first
//     input axis of the same letter with a fixed size (offset = the
//     difference, 0 for unet2d_fixed_shape), so its size stays the same
//     and it keeps its halo; without such an input axis the halo is
//     dropped (a fixed-size output is never tiled, nothing is cropped);
//   - an output axis with halo 0 gets no halo (the reference gives time
//     axes halo 0, which 0.5 refuses);
//   - scale_linear with a scalar gain and offset gets no axis, whatever
//     its axes (the reference gives it the complementary axis, which 0.5
//     refuses, or fails for several);
//
// and a tensor without a test or sample file
// (fewer test_inputs than inputs) is converted without that file instead of
// being dropped, and a well-formed 0.4 parent {id, version_number} is
// converted (the reference's 0.4 model discards parent mappings; other
// parent mappings are dropped here too).
func ConvertModel04To05(root *yaml.Node) (*yaml.Node, error) {
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, errors.New("the description is not a mapping")
	}
	src := deepCopy(root)
	if fv := lookup(src, "format_version"); fv == nil || fv.Tag != "!!str" || !(strings.HasPrefix(fv.Value, "0.3") || strings.HasPrefix(fv.Value, "0.4")) {
		return nil, errors.New("only model descriptions of format 0.3 or 0.4 can be converted to 0.5")
	}
	upgradeModel04(src)
	mc := &modelConv{src: src, out: &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: src.Line, Column: src.Column}}
	mc.convert()
	if len(mc.errs) > 0 {
		return nil, errors.Join(mc.errs...)
	}
	inheritPositions(mc.out, src.Line, src.Column)
	return mc.out, nil
}

// modelConv holds one model conversion: the upgraded 0.4 source, the 0.5
// tree being built and the reasons the conversion failed.
type modelConv struct {
	src, out *yaml.Node
	errs     []error
	sizeRefs map[string]map[byte]int64 // tensor name → axis letter → size
	// fixedInputs lists, in input order, each input's axes of fixed size
	// (letter → size), for outputs with a halo and a fixed size.
	fixedInputs []fixedAxes
}

type fixedAxes struct {
	name  string
	sizes map[byte]int64
}

func (mc *modelConv) fail(p path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(p) > 0 {
		msg = p.String() + ": " + msg
	}
	mc.errs = append(mc.errs, errors.New(msg))
}

// put appends key: v to the output mapping, the key positioned at the
// source key srcKey (if present).
func (mc *modelConv) put(key, srcKey string, v *yaml.Node) {
	putAt(mc.out, key, keyNode(mc.src, srcKey), v)
}

// putAt appends key: v to m with the key node positioned at at.
func putAt(m *yaml.Node, key string, at, v *yaml.Node) {
	if v == nil {
		return
	}
	m.Content = append(m.Content, posStr(key, at), v)
}

// copyField copies the source value of key unless it is absent or null.
func (mc *modelConv) copyField(key string) {
	if v := lookup(mc.src, key); !isNull(v) {
		mc.put(key, key, deepCopy(v))
	}
}

func (mc *modelConv) convert() {
	src := mc.src
	mc.put("type", "type", deepCopy(lookup(src, "type")))
	mc.put("format_version", "format_version", posStr(LatestModel, lookup(src, "format_version")))
	if n := lookup(src, "name"); n != nil {
		mc.put("name", "name", convertName(n, false))
	}
	for _, k := range []string{"description", "id", "id_emoji"} {
		mc.copyField(k)
	}
	for _, k := range []string{"authors", "maintainers", "packaged_by"} {
		if v := lookup(src, k); !isNull(v) {
			mc.put(k, k, convertPersons(v))
		}
	}
	if v := lookup(src, "cite"); !isNull(v) {
		mc.put("cite", "cite", convertCite(v))
	}
	for _, k := range []string{"license", "tags", "covers", "documentation", "git_repo", "icon", "links", "uploader", "version"} {
		mc.copyField(k)
	}
	if v := lookup(src, "attachments"); !isNull(v) {
		if a := convertAttachments(v); a != nil {
			mc.put("attachments", "attachments", a)
		}
	}
	mc.copyField("timestamp")
	if v := lookup(src, "parent"); v != nil && v.Kind == yaml.MappingNode && linkedModel04OK(v) {
		// zoo keeps a well-formed linked model (the reference drops every
		// parent mapping); a link to the model itself is dropped too.
		if p, self := linkedID(v), lookup(src, "id"); self == nil || lookup(p, "id").Value != strings.ToLower(self.Value) {
			mc.put("parent", "parent", p)
		}
	}
	if v := lookup(src, "training_data"); !isNull(v) {
		if v.Kind == yaml.MappingNode && lookup(v, "type") == nil {
			mc.put("training_data", "training_data", linkedID(v))
		} else {
			mc.put("training_data", "training_data", deepCopy(v))
		}
	}
	mc.copyField("run_mode")
	mc.sizeRefs = mc.collectSizeRefs()
	mc.fixedInputs = collectFixedInputs(src)
	mc.put("inputs", "inputs", mc.convertTensors("inputs", "test_inputs", "sample_inputs"))
	mc.put("outputs", "outputs", mc.convertTensors("outputs", "test_outputs", "sample_outputs"))
	if w := lookup(src, "weights"); w != nil {
		mc.put("weights", "weights", mc.convertWeights(w))
	}
	mc.copyField("config")
}

// nameChars are the characters a 0.3/0.5 name may hold.
func nameChar(r rune) bool {
	return r < 128 && (r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_+-() ", r))
}

// convertName replaces every character a 0.3/0.5 name may not hold by a
// space; truncate also cuts the result to 128 characters (the generic
// converter does, the model converter does not).
func convertName(n *yaml.Node, truncate bool) *yaml.Node {
	out := deepCopy(n)
	if n.Tag != "!!str" {
		return out
	}
	rs := []rune(n.Value)
	for i, r := range rs {
		if !nameChar(r) {
			rs[i] = ' '
		}
	}
	if truncate && len(rs) > 128 {
		rs = rs[:128]
	}
	out.Value = string(rs)
	return out
}

var personKeys = []string{"name", "affiliation", "email", "orcid", "github_user"}

// convertPersons copies the person fields of a list of authors or
// maintainers (plain-string authors become {name}).
func convertPersons(list *yaml.Node) *yaml.Node {
	out := deepCopy(list)
	if out.Kind != yaml.SequenceNode {
		return out
	}
	for i, p := range out.Content {
		if p.Kind == yaml.ScalarNode && p.Tag == "!!str" {
			out.Content[i] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: p.Line, Column: p.Column,
				Content: []*yaml.Node{posStr("name", p), p}}
			continue
		}
		out.Content[i] = pick(p, personKeys...)
	}
	return out
}

// pick copies the given keys of mapping m (non-null values only), keeping
// positions; anything but a mapping is copied whole.
func pick(m *yaml.Node, keys ...string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return deepCopy(m)
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: m.Line, Column: m.Column, Style: m.Style}
	for _, k := range keys {
		if v := lookup(m, k); !isNull(v) {
			putAt(out, k, keyNode(m, k), deepCopy(v))
		}
	}
	return out
}

func convertCite(list *yaml.Node) *yaml.Node {
	out := deepCopy(list)
	if out.Kind != yaml.SequenceNode {
		return out
	}
	for i, e := range out.Content {
		out.Content[i] = pick(e, "text", "doi", "url")
	}
	return out
}

// convertAttachments turns {files: [f, …], …} into [{source: f}, …]; other
// attachment keys are dropped. A list (already 0.3 style) is copied.
func convertAttachments(a *yaml.Node) *yaml.Node {
	if a.Kind == yaml.SequenceNode {
		return deepCopy(a)
	}
	if a.Kind != yaml.MappingNode {
		return nil
	}
	out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: a.Line, Column: a.Column}
	for _, f := range seqItems(lookup(a, "files")) {
		out.Content = append(out.Content, fileDescrNode(f))
	}
	return out
}

// fileDescrNode returns {source: f} positioned at f.
func fileDescrNode(f *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: f.Line, Column: f.Column,
		Content: []*yaml.Node{posStr("source", f), deepCopy(f)}}
}

// linkedID turns a 0.2 link {id, version_number?} into {id: "<id>" or
// "<id>/<version_number>"}.
func linkedID(m *yaml.Node) *yaml.Node {
	id := lookup(m, "id")
	if id == nil {
		return deepCopy(m)
	}
	idOut := deepCopy(id)
	if vn := lookup(m, "version_number"); !isNull(vn) {
		idOut.Value = id.Value + "/" + vn.Value
		idOut.Tag, idOut.Style = "!!str", 0
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: m.Line, Column: m.Column}
	putAt(out, "id", keyNode(m, "id"), idOut)
	return out
}

// --- tensors -------------------------------------------------------------------------

// collectFixedInputs returns the axes of fixed size of every input: all of
// them for an explicit shape, those with step 0 for a parameterized one.
func collectFixedInputs(src *yaml.Node) []fixedAxes {
	var out []fixedAxes
	for _, t := range seqItems(lookup(src, "inputs")) {
		name, axes := lookup(t, "name"), lookup(t, "axes")
		if name == nil || name.Tag != "!!str" || axes == nil || axes.Tag != "!!str" {
			continue
		}
		s := readShape04(lookup(t, "shape"))
		if s.kind != shapeFixed04 && s.kind != shapeParam04 {
			continue
		}
		m := map[byte]int64{}
		for i := 0; i < len(axes.Value) && i < len(s.sizes); i++ {
			if s.kind == shapeFixed04 || (i < len(s.step) && s.step[i] == 0) {
				m[axes.Value[i]] = s.sizes[i]
			}
		}
		out = append(out, fixedAxes{name.Value, m})
	}
	return out
}

// fixedRef expresses a fixed output size as a size reference to the first
// input axis of the same letter that has a fixed size: size = that axis's
// size + offset, which is the fixed size whatever is fed. ok is false when
// no input has such an axis.
func (mc *modelConv) fixedRef(letter byte, size int64) (axisSize, bool) {
	for _, in := range mc.fixedInputs {
		if ref, ok := in.sizes[letter]; ok {
			return axisSize{isRef: true, refTensor: in.name, refAxis: axisID05(letter), offset: size - ref, scale: 1}, true
		}
	}
	return axisSize{}, false
}

// collectSizeRefs records the known axis sizes: input fixed sizes or
// parameterized minima, and output fixed sizes (inputs win on a name
// clash, as in the reference).
func (mc *modelConv) collectSizeRefs() map[string]map[byte]int64 {
	refs := map[string]map[byte]int64{}
	record := func(t *yaml.Node) {
		name, axes := lookup(t, "name"), lookup(t, "axes")
		if name == nil || axes == nil || axes.Tag != "!!str" {
			return
		}
		s := readShape04(lookup(t, "shape"))
		if s.kind != shapeFixed04 && s.kind != shapeParam04 {
			return
		}
		m := map[byte]int64{}
		for i := 0; i < len(axes.Value) && i < len(s.sizes); i++ {
			m[axes.Value[i]] = s.sizes[i]
		}
		refs[name.Value] = m
	}
	for _, t := range seqItems(lookup(mc.src, "outputs")) {
		record(t)
	}
	for _, t := range seqItems(lookup(mc.src, "inputs")) {
		record(t)
	}
	return refs
}

// convertTensors converts the tensors under key, pairing tensor i with
// test file i and sample file i.
func (mc *modelConv) convertTensors(key, testKey, sampleKey string) *yaml.Node {
	list := lookup(mc.src, key)
	if list == nil || list.Kind != yaml.SequenceNode {
		mc.fail(path{key}, "expected a list of tensors")
		return nil
	}
	tests, samples := seqItems(lookup(mc.src, testKey)), seqItems(lookup(mc.src, sampleKey))
	out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: list.Line, Column: list.Column}
	for i, t := range list.Content {
		var test, sample *yaml.Node
		if i < len(tests) {
			test = tests[i]
		}
		if i < len(samples) {
			sample = samples[i]
		}
		if ct := mc.convertTensor(t, path{key, itoa(i)}, key == "inputs", test, sample); ct != nil {
			out.Content = append(out.Content, ct)
		}
	}
	return out
}

func (mc *modelConv) convertTensor(t *yaml.Node, p path, input bool, test, sample *yaml.Node) *yaml.Node {
	if t.Kind != yaml.MappingNode {
		mc.fail(p, "expected a tensor description (a mapping)")
		return nil
	}
	axesNode := lookup(t, "axes")
	if axesNode == nil || axesNode.Tag != "!!str" {
		mc.fail(p.k("axes"), "expected a string of axis letters")
		return nil
	}
	letters := axesNode.Value
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: t.Line, Column: t.Column}
	if name := lookup(t, "name"); name != nil {
		putAt(out, "id", keyNode(t, "name"), deepCopy(name))
	}
	var halo []int64
	if h := lookup(t, "halo"); !input && h != nil && h.Kind == yaml.SequenceNode {
		var ok bool
		if halo, ok = ints(h); !ok {
			mc.fail(p.k("halo"), "expected a list of integers")
			return nil
		}
	}
	axes := mc.convertAxes(letters, lookup(t, "shape"), p, input, halo, axesNode)
	putAt(out, "axes", keyNode(t, "axes"), axes)
	if test != nil {
		putAt(out, "test_tensor", test, fileDescrNode(test))
	}
	if sample != nil {
		putAt(out, "sample_tensor", sample, fileDescrNode(sample))
	}
	if dt := lookup(t, "data_type"); dt != nil {
		data := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: dt.Line, Column: dt.Column}
		putAt(data, "type", dt, deepCopy(dt))
		if dt.Value == "bool" {
			putAt(data, "values", dt, at(seqNode(boolNode(false), boolNode(true)), dt))
		}
		putAt(out, "data", keyNode(t, "data_type"), data)
	}
	procKey := "postprocessing"
	if input {
		procKey = "preprocessing"
	}
	steps := lookup(t, procKey)
	procs := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: t.Line, Column: t.Column}
	if steps != nil {
		procs.Line, procs.Column = steps.Line, steps.Column
	}
	for i, s := range seqItems(steps) {
		if cs := mc.convertProc(s, letters, p.k(procKey).i(i)); cs != nil {
			procs.Content = append(procs.Content, cs)
		}
	}
	if input {
		// 0.4 preprocessing yields float32, whatever the input's type.
		procs.Content = append(procs.Content, at(mapNode("id", strNode("ensure_dtype"), "kwargs", mapNode("dtype", strNode("float32"))), procs))
	}
	if len(procs.Content) > 0 {
		putAt(out, procKey, keyNode(t, procKey), procs)
	}
	return out
}

// at gives n and its descendants without a position the position of src.
func at(n, src *yaml.Node) *yaml.Node {
	if src == nil {
		return n
	}
	if n.Line == 0 {
		n.Line, n.Column = src.Line, src.Column
	}
	for _, c := range n.Content {
		at(c, src)
	}
	return n
}

var axisTypes04 = map[byte]string{'b': "batch", 't': "time", 'i': "index", 'c': "channel", 'x': "space", 'y': "space", 'z': "space"}

// axisID05 maps a 0.4 axis letter to its 0.5 axis id.
func axisID05(letter byte) string {
	switch letter {
	case 'b':
		return "batch"
	case 't':
		return "time"
	case 'i':
		return "index"
	case 'c':
		return "channel"
	}
	return string(letter)
}

// axisSize is the 0.5 size of one converted axis.
type axisSize struct {
	fixed     int64
	isFixed   bool
	min, step int64 // parameterized (step > 0)
	refTensor string
	refAxis   string
	offset    int64
	isRef     bool
	scale     float64
}

func (s axisSize) node(pos *yaml.Node) *yaml.Node {
	switch {
	case s.isFixed:
		return at(intNode(s.fixed), pos)
	case s.isRef:
		return at(mapNode("tensor_id", strNode(s.refTensor), "axis_id", strNode(s.refAxis), "offset", intNode(s.offset)), pos)
	}
	return at(mapNode("min", intNode(s.min), "step", intNode(s.step)), pos)
}

// convertAxes converts a 0.4 axes string with its shape (and an output's
// halo) into 0.5 axes, letter by letter (§16 "Axes conversion").
func (mc *modelConv) convertAxes(letters string, shapeNode *yaml.Node, p path, input bool, halo []int64, pos *yaml.Node) *yaml.Node {
	shape := readShape04(shapeNode)
	if shape.kind == shapeBad04 {
		mc.fail(p.k("shape"), "the shape cannot be read; validate the description as 0.4 first")
		return nil
	}
	out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: pos.Line, Column: pos.Column}
	for i := 0; i < len(letters); i++ {
		letter := letters[i]
		typ, ok := axisTypes04[letter]
		if !ok {
			mc.fail(p.k("axes"), "unknown axis letter %q", string(letter))
			continue
		}
		if typ == "batch" {
			out.Content = append(out.Content, at(mapNode("type", strNode("batch")), pos))
			continue
		}
		size, ok := mc.axisSize(shape, i, letter, typ, p)
		if !ok {
			continue
		}
		var h *int64
		if i < len(halo) {
			h = &halo[i]
		} else if len(halo) > 0 {
			var zero int64
			h = &zero
		}
		if a := mc.convertAxis(typ, letter, size, input, h, p.k("axes"), pos); a != nil {
			out.Content = append(out.Content, a)
		}
	}
	return out
}

// axisSize derives the size of axis i from the 0.4 shape.
func (mc *modelConv) axisSize(shape shape04, i int, letter byte, typ string, p path) (axisSize, bool) {
	s := axisSize{scale: 1}
	switch shape.kind {
	case shapeFixed04, shapeParam04:
		if i >= len(shape.sizes) {
			mc.fail(p.k("shape"), "no size for axis %d (%q)", i, string(letter))
			return s, false
		}
		if shape.kind == shapeParam04 && shape.step[i] != 0 {
			s.min, s.step = shape.sizes[i], shape.step[i]
		} else {
			s.fixed, s.isFixed = shape.sizes[i], true
		}
	case shapeImplicit04:
		if i >= len(shape.scale) {
			mc.fail(p.k("shape"), "no scale for axis %d (%q)", i, string(letter))
			return s, false
		}
		refTensor, refLetter := shape.ref, letter
		if t, a, ok := strings.Cut(shape.ref, "."); ok && !strings.Contains(a, ".") && len(a) == 1 {
			refTensor, refLetter = t, a[0]
		}
		sc := shape.scale[i]
		if sc == nil || *sc == 0 {
			// the old way to add an axis: its length is 2·offset
			s.fixed, s.isFixed = int64(2*shape.offset[i]), true
			break
		}
		s.scale = 1 / *sc
		extra := 0.0
		if typ == "channel" || typ == "index" {
			// these axes have no scale in 0.5: fold it into the offset
			extra = *sc * float64(mc.sizeRefs[refTensor][refLetter])
		}
		s.isRef, s.refTensor, s.refAxis = true, refTensor, axisID05(refLetter)
		s.offset = int64(extra + 2*shape.offset[i])
	}
	return s, true
}

// convertAxis builds one 0.5 axis. halo is nil when the tensor has no halo
// list.
func (mc *modelConv) convertAxis(typ string, letter byte, size axisSize, input bool, halo *int64, p path, pos *yaml.Node) *yaml.Node {
	param := !size.isFixed && !size.isRef
	a := mapNode("type", strNode(typ))
	addScale := func() {
		if size.scale != 1 {
			a.Content = append(a.Content, strNode("scale"), floatNode(size.scale))
		}
	}
	switch typ {
	case "channel":
		n := size.fixed
		switch {
		case param:
			mc.fail(p, "the channel axis %q has a parameterized size (step ≠ 0); 0.5 channel axes have a fixed number of channels", string(letter))
			return nil
		case size.isRef:
			n = size.offset // the reference's guess, possibly wrong
		}
		names := seqNode()
		for k := int64(0); k < n && k < 1<<16; k++ {
			names.Content = append(names.Content, strNode("channel"+strconv.FormatInt(k, 10)))
		}
		a.Content = append(a.Content, strNode("channel_names"), names)
	case "index":
		if !input && param {
			a.Content = append(a.Content, strNode("size"), mapNode("min", intNode(size.min)))
		} else {
			a.Content = append(a.Content, strNode("size"), size.node(pos))
		}
	case "time", "space":
		if typ == "space" {
			a.Content = append(a.Content, strNode("id"), strNode(string(letter)))
		}
		withHalo := !input && halo != nil && *halo != 0
		if withHalo && size.isFixed {
			// 0.5 gives a halo only to an axis sized by reference. A fixed
			// size becomes a reference to a fixed input axis (same size);
			// without one the halo is dropped: a fixed-size output is never
			// tiled, so there is nothing to crop.
			if ref, ok := mc.fixedRef(letter, size.fixed); ok {
				size = ref
			} else {
				withHalo = false
			}
		}
		if withHalo && !size.isRef {
			mc.fail(p, "output axis with halo and parameterized size (here %s) not allowed", sizeText(size))
			return nil
		}
		if withHalo {
			a.Content = append(a.Content, strNode("halo"), intNode(*halo))
		}
		a.Content = append(a.Content, strNode("size"), size.node(pos))
		addScale()
	}
	return at(a, pos)
}

func sizeText(s axisSize) string {
	if s.isFixed {
		return strconv.FormatInt(s.fixed, 10)
	}
	return fmt.Sprintf("{min: %d, step: %d}", s.min, s.step)
}

// --- processing ----------------------------------------------------------------------

// convertProc converts one 0.4 processing step (§16 "Processing
// conversion"); tensorAxes is the tensor's 0.4 axes string.
func (mc *modelConv) convertProc(s *yaml.Node, tensorAxes string, p path) *yaml.Node {
	nameNode := lookup(s, "name")
	if nameNode == nil || nameNode.Tag != "!!str" {
		mc.fail(p.k("name"), "a processing step needs a name")
		return nil
	}
	kw := lookup(s, "kwargs")
	if kw == nil || kw.Kind != yaml.MappingNode {
		kw = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: s.Line, Column: s.Column}
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: s.Line, Column: s.Column}
	kwOut := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: kw.Line, Column: kw.Column}
	id := nameNode.Value
	// get copies a kwarg, or returns def positioned at the kwargs.
	get := func(key string, def *yaml.Node) *yaml.Node {
		if v := lookup(kw, key); !isNull(v) {
			return deepCopy(v)
		}
		if def == nil {
			return nil
		}
		return at(def, kw)
	}
	put := func(key string, v *yaml.Node) { putAt(kwOut, key, keyNode(kw, key), v) }
	axesKw := lookup(kw, "axes")
	switch id {
	case "binarize":
		put("threshold", get("threshold", nil))
	case "clip":
		put("min", get("min", nil))
		put("max", get("max", nil))
	case "sigmoid":
	case "scale_linear":
		gain, offset := get("gain", floatNode(1)), get("offset", floatNode(0))
		axis := ""
		// Scalars apply alike along every axis, so their axes do not
		// matter; 0.5 refuses an axis for them ("Do not specify an `axis`
		// for scalar gain and offset values"), which the reference's
		// converter gives them anyway.
		if gain.Kind == yaml.SequenceNode || offset.Kind == yaml.SequenceNode {
			var ok bool
			if axis, ok = mc.complementAxis(tensorAxes, axesKw, p); !ok {
				return nil
			}
		}
		if axis == "" {
			if gain.Kind == yaml.SequenceNode || offset.Kind == yaml.SequenceNode {
				mc.fail(p.k("kwargs"), "scale_linear with lists of gains or offsets needs axes leaving exactly one axis (e.g. axes: yx for a bcyx tensor) to apply them along")
				return nil
			}
		} else {
			put("axis", at(strNode(axis), axesKw))
		}
		put("gain", gain)
		put("offset", offset)
	case "zero_mean_unit_variance":
		id = mc.convertZMUV(kw, tensorAxes, p, get, put)
		if id == "" {
			return nil
		}
	case "scale_range":
		put("axes", axisIDList(axesKw, false))
		put("min_percentile", get("min_percentile", floatNode(0)))
		put("max_percentile", get("max_percentile", floatNode(100)))
		put("eps", get("eps", floatNode(1e-6)))
	case "scale_mean_variance":
		put("axes", axisIDList(axesKw, false))
		put("reference_tensor", get("reference_tensor", nil))
		put("eps", get("eps", floatNode(1e-6)))
	default:
		mc.fail(p.k("name"), "unknown processing step %q", id)
		return nil
	}
	putAt(out, "id", keyNode(s, "name"), posStr(id, nameNode))
	if id != "sigmoid" {
		putAt(out, "kwargs", keyNode(s, "kwargs"), kwOut)
	}
	return out
}

// convertZMUV converts zero_mean_unit_variance: mode fixed becomes
// fixed_zero_mean_unit_variance (along the complementary axis for
// per-channel values), the other modes keep the id with axes ids (batch
// prepended for per_dataset). It returns the 0.5 id, "" on failure.
func (mc *modelConv) convertZMUV(kw *yaml.Node, tensorAxes string, p path, get func(string, *yaml.Node) *yaml.Node, put func(string, *yaml.Node)) string {
	axesKw := lookup(kw, "axes")
	mode := "fixed"
	if m := lookup(kw, "mode"); m != nil && m.Tag == "!!str" {
		mode = m.Value
	}
	if mode != "fixed" {
		put("axes", axisIDList(axesKw, mode == "per_dataset"))
		put("eps", get("eps", floatNode(1e-6)))
		return "zero_mean_unit_variance"
	}
	axis, ok := mc.complementAxis(tensorAxes, axesKw, p)
	if !ok {
		return ""
	}
	mean, std := get("mean", nil), get("std", nil)
	if mean == nil || std == nil {
		mc.fail(p.k("kwargs"), "mode fixed needs mean and std")
		return ""
	}
	if axis == "" {
		if mean.Kind == yaml.SequenceNode || std.Kind == yaml.SequenceNode {
			mc.fail(p.k("kwargs"), "fixed zero_mean_unit_variance with lists of means or stds needs axes leaving exactly one axis (e.g. axes: yx for a bcyx tensor) to apply them along")
			return ""
		}
		put("mean", mean)
		put("std", std)
		return "fixed_zero_mean_unit_variance"
	}
	wrap := func(n *yaml.Node) *yaml.Node {
		if n.Kind == yaml.SequenceNode {
			return n
		}
		return at(seqNode(n), n)
	}
	put("axis", at(strNode(axis), axesKw))
	put("mean", wrap(mean))
	put("std", wrap(std))
	return "fixed_zero_mean_unit_variance"
}

// complementAxis returns the 0.5 id of the single tensor axis that is
// neither batch nor in the kwargs axes ("" if none, or if axes is null);
// more than one such axis fails the conversion.
func (mc *modelConv) complementAxis(tensorAxes string, axesKw *yaml.Node, p path) (string, bool) {
	if isNull(axesKw) || axesKw.Tag != "!!str" {
		return "", true
	}
	var rest []string
	for i := 0; i < len(tensorAxes); i++ {
		l := tensorAxes[i]
		if l != 'b' && !strings.ContainsRune(axesKw.Value, rune(l)) {
			rest = append(rest, string(l))
		}
	}
	switch len(rest) {
	case 0:
		return "", true
	case 1:
		return axisID05(rest[0][0]), true
	}
	mc.fail(p.k("kwargs").k("axes"), "Expected none or a single complement axis, but axes '%s' for tensor dims '%s' leave '%s'.", axesKw.Value, tensorAxes, strings.Join(rest, ""))
	return "", false
}

// axisIDList converts a 0.4 axes string into a list of 0.5 axis ids
// (batch first if withBatch); nil for null axes without batch.
func axisIDList(axes *yaml.Node, withBatch bool) *yaml.Node {
	out := seqNode()
	if withBatch {
		out.Content = append(out.Content, strNode("batch"))
	}
	if !isNull(axes) && axes.Tag == "!!str" {
		for i := 0; i < len(axes.Value); i++ {
			out.Content = append(out.Content, strNode(axisID05(axes.Value[i])))
		}
	}
	if len(out.Content) == 0 {
		return nil
	}
	out.Style = yaml.FlowStyle
	return at(out, axes)
}

// --- weights -------------------------------------------------------------------------

// weightsDefaults are the versions the reference assumes when a 0.4
// weights entry does not give one.
var weightsDefaults = map[string]struct {
	key string
	def func() *yaml.Node
}{
	"keras_hdf5":                    {"tensorflow_version", func() *yaml.Node { return strNode("1.15") }},
	"tensorflow_js":                 {"tensorflow_version", func() *yaml.Node { return strNode("1.15") }},
	"tensorflow_saved_model_bundle": {"tensorflow_version", func() *yaml.Node { return strNode("1.15") }},
	"onnx":                          {"opset_version", func() *yaml.Node { return intNode(15) }},
	"pytorch_state_dict":            {"pytorch_version", func() *yaml.Node { return strNode("1.10") }},
	"torchscript":                   {"pytorch_version", func() *yaml.Node { return strNode("1.10") }},
}

func (mc *modelConv) convertWeights(w *yaml.Node) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: w.Line, Column: w.Column}
	if w.Kind != yaml.MappingNode {
		mc.fail(path{"weights"}, "expected a mapping of weight formats")
		return out
	}
	for i := 0; i+1 < len(w.Content); i += 2 {
		format, e := w.Content[i].Value, w.Content[i+1]
		if isNull(e) {
			continue
		}
		def, known := weightsDefaults[format]
		if !known || e.Kind != yaml.MappingNode {
			mc.fail(path{"weights", format}, "not a weights entry of a known format")
			continue
		}
		ce := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: e.Line, Column: e.Column}
		put := func(key string, v *yaml.Node) { putAt(ce, key, keyNode(e, key), v) }
		put("source", deepCopy(lookup(e, "source")))
		if a := lookup(e, "authors"); !isNull(a) {
			put("authors", convertPersons(a))
		}
		if par := lookup(e, "parent"); !isNull(par) {
			put("parent", deepCopy(par))
		}
		if format == "pytorch_state_dict" {
			if a := mc.convertArchitecture(e); a != nil {
				put("architecture", a)
			}
		}
		if v := lookup(e, def.key); !isNull(v) {
			put(def.key, deepCopy(v))
		} else {
			put(def.key, at(def.def(), e))
		}
		if format == "pytorch_state_dict" || format == "tensorflow_saved_model_bundle" {
			if d := lookup(e, "dependencies"); !isNull(d) {
				src := deepCopy(d)
				src.Value = strings.TrimPrefix(d.Value, "conda:")
				put("dependencies", at(mapNode("source", src), d))
			}
		}
		putAt(out, format, w.Content[i], ce)
	}
	return out
}

// convertArchitecture turns "file.py:Callable" into {source, callable,
// sha256, kwargs} and "pkg.mod.Callable" into {import_from, callable,
// kwargs}.
func (mc *modelConv) convertArchitecture(e *yaml.Node) *yaml.Node {
	arch := lookup(e, "architecture")
	if arch == nil || arch.Tag != "!!str" {
		mc.fail(path{"weights", "pytorch_state_dict", "architecture"}, "expected '<file>:<callable>' or '<module>.<callable>'")
		return nil
	}
	a, ok := parseArchitecture04(arch.Value)
	if !ok {
		mc.fail(path{"weights", "pytorch_state_dict", "architecture"}, "%q is neither '<file>:<callable>' nor '<module>.<callable>'", arch.Value)
		return nil
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: arch.Line, Column: arch.Column}
	if a.fromFile {
		putAt(out, "source", arch, posStr(a.file, arch))
		putAt(out, "callable", arch, posStr(a.callable, arch))
		if sha := lookup(e, "architecture_sha256"); !isNull(sha) {
			putAt(out, "sha256", keyNode(e, "architecture_sha256"), deepCopy(sha))
		}
	} else {
		putAt(out, "import_from", arch, posStr(a.module, arch))
		putAt(out, "callable", arch, posStr(a.callable, arch))
	}
	kw := lookup(e, "kwargs")
	if isNull(kw) {
		kw = at(&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, arch)
	} else {
		kw = deepCopy(kw)
	}
	putAt(out, "kwargs", keyNode(e, "kwargs"), kw)
	return out
}

// --- generic 0.2 → 0.3 ---------------------------------------------------------------------

// ConvertGeneric02To03 converts a dataset, application, notebook or
// generic description of format 0.2.x into a new tree of format 0.3.0
// (root is not modified): the 0.2 upgrades run, plain-string authors
// become {name}, attachments {files: [f, …]} become [{source: f}, …],
// download_url and rdf_source are dropped, and the name loses disallowed
// characters (replaced by spaces) and is cut to 128 characters. Other
// fields are taken over as they are and left to the 0.3 validation.
//
// Deviation: the reference re-encodes .tif/.tiff covers as PNG files; zoo
// keeps them (0.3 accepts tif covers).
func ConvertGeneric02To03(root *yaml.Node) *yaml.Node {
	out := deepCopy(root)
	if out == nil || out.Kind != yaml.MappingNode {
		return out
	}
	upgradeGeneric02(out)
	namesToPersons(lookup(out, "authors"), nil)
	if a := lookup(out, "attachments"); a != nil {
		if conv := convertAttachments(a); conv != nil {
			set(out, "attachments", conv)
		} else if isNull(a) {
			del(out, "attachments")
		}
	}
	del(out, "download_url")
	del(out, "rdf_source")
	if n := lookup(out, "name"); n != nil {
		set(out, "name", convertName(n, true))
	}
	fv := lookup(out, "format_version")
	set(out, "format_version", posStr(LatestGeneric, fv))
	inheritPositions(out, out.Line, out.Column)
	return out
}

// inheritPositions gives every node without a position that of its
// nearest positioned ancestor.
func inheritPositions(n *yaml.Node, line, col int) {
	if n.Line == 0 {
		n.Line, n.Column = line, col
	}
	for _, c := range n.Content {
		inheritPositions(c, n.Line, n.Column)
	}
}
