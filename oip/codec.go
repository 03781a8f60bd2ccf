package oip

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Limits bound what one inference request may carry. The zero value means
// the defaults.
type Limits struct {
	// MaxBody is the largest request body in bytes (JSON header and binary
	// tensors together); default 256 MiB. Larger images go through
	// asynchronous jobs.
	MaxBody int64
	// MaxElements is the largest element count of one tensor; default
	// 1<<26 (a 8192² image).
	MaxElements int
	// MaxTensors is the most inputs, and the most requested outputs, of
	// one request; default 64.
	MaxTensors int

	// The server's limits (not DecodeRequest's):

	// MaxConcurrent is the most infer requests with bodies over 4 MiB
	// served at once, and the most with smaller bodies (a lane of their
	// own, so that ordinary images do not wait behind large ones); default
	// 4. Others wait up to QueueWait, then get 429.
	MaxConcurrent int
	// MaxPerClient is the most infer requests one client (web.ClientKey)
	// may have served at once; default 2. More get 429 at once.
	MaxPerClient int
	// MaxInFlight bounds the bytes held by the infer requests being
	// served: their bodies, the tensors decoded from them and the outputs
	// expected for them; default 1 GiB. One client may hold half of it.
	MaxInFlight int64
	// QueueWait is how long a request waits for room; default 10 s.
	QueueWait time.Duration
	// MaxResponse bounds an answer in bytes, counting JSON outputs at
	// their widest text (15 bytes per FP32 element, 25 per FP64) and
	// binary outputs at their size; default 64 MiB. Larger answers are
	// refused (413) before the model runs where the description gives the
	// output sizes, and before any byte is sent otherwise.
	MaxResponse int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxBody <= 0 {
		l.MaxBody = 256 << 20
	}
	if l.MaxElements <= 0 {
		l.MaxElements = 1 << 26
	}
	if l.MaxTensors <= 0 {
		l.MaxTensors = 64
	}
	if l.MaxConcurrent <= 0 {
		l.MaxConcurrent = 4
	}
	if l.MaxPerClient <= 0 {
		l.MaxPerClient = 2
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = 1 << 30
	}
	if l.QueueWait <= 0 {
		l.QueueWait = 10 * time.Second
	}
	if l.MaxResponse <= 0 {
		l.MaxResponse = 64 << 20
	}
	return l
}

// Request parameters zoo reads (all optional booleans).
const (
	// ParamProcessing ("zoo_processing", default true) runs the
	// description's pre- and postprocessing around the network; false
	// feeds the inputs to the network as they are and returns its raw
	// outputs.
	ParamProcessing = "zoo_processing"
	// ParamBinaryOutput ("binary_data_output") returns every output as
	// binary data (binary tensor extension).
	ParamBinaryOutput = "binary_data_output"
	// ParamBinary ("binary_data") on one requested output returns it as
	// binary data.
	ParamBinary = "binary_data"
	// ParamBinarySize ("binary_data_size") on an input gives the size of
	// its binary data; on an output in a response, likewise.
	ParamBinarySize = "binary_data_size"
)

// HeaderLength is the HTTP header of the binary tensor extension: the
// length of the JSON part of a body that binary tensors follow.
const HeaderLength = "Inference-Header-Content-Length"

// Request is a decoded inference request.
type Request struct {
	ID           string
	Inputs       []Input      // in request order, names unique
	Outputs      []OutputSpec // requested outputs in request order; nil = all
	BinaryOutput bool         // binary_data_output
	Processing   bool         // zoo_processing (default true)
}

// Input is one input tensor of a request.
type Input struct {
	Name   string
	Tensor *tensor.Tensor // Axes nil
}

// OutputSpec is one requested output.
type OutputSpec struct {
	Name   string
	Binary bool
}

type wireRequest struct {
	ID         string                     `json:"id"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Inputs     []wireInput                `json:"inputs"`
	Outputs    []wireOutput               `json:"outputs"`
}

type wireInput struct {
	Name       string                     `json:"name"`
	Shape      []int64                    `json:"shape"`
	Datatype   string                     `json:"datatype"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Data       span                       `json:"data"`
}

type wireOutput struct {
	Name       string                     `json:"name"`
	Parameters map[string]json.RawMessage `json:"parameters"`
}

// datatypes maps the protocol's datatypes to tensor dtypes (BYTES has no
// dtype: zoo's models take numbers).
var datatypes = map[string]tensor.DType{
	"BOOL": tensor.Bool, "UINT8": tensor.Uint8, "UINT16": tensor.Uint16, "UINT32": tensor.Uint32, "UINT64": tensor.Uint64,
	"INT8": tensor.Int8, "INT16": tensor.Int16, "INT32": tensor.Int32, "INT64": tensor.Int64,
	"FP16": tensor.Float16, "FP32": tensor.Float32, "FP64": tensor.Float64,
}

// Datatype returns the protocol's name of a dtype (e.g. "FP32").
func Datatype(d tensor.DType) string {
	for k, v := range datatypes {
		if v == d {
			return k
		}
	}
	return strings.ToUpper(string(d))
}

func invalid(format string, args ...any) error {
	return zoo.E("oip.Decode", zoo.Invalid, nil, format, args...)
}

// DecodeRequest decodes an inference request body held in memory (see
// ReadRequest, which it calls with the whole body and no check).
func DecodeRequest(body []byte, headerLen int64, lim Limits) (*Request, error) {
	return ReadRequest(bytes.NewReader(body), int64(len(body)), headerLen, lim, nil)
}

// ReadRequest reads an inference request of exactly length bytes from r.
// headerLen is the value of the Inference-Header-Content-Length header,
// or -1 when absent (the whole body is JSON). Every malformed or
// inconsistent request is zoo.Invalid (zoo.TooLarge past a limit,
// zoo.NotSupported for BYTES): element counts must equal the product of
// the shape, binary sizes must equal elements × datatype size and add up
// to the binary part exactly, and float inputs must be finite.
//
// Memory and work. Only the JSON part is held in memory. Its tensor data
// is found by bracket matching (skim) and parsed in place by fillJSON,
// once, after the check: a request refused by check costs one pass over
// its bytes, no number parsing and no copy. Binary tensors are read from r
// straight into their tensors. Before any tensor is allocated, check (if
// not nil) sees the request with every input's name, datatype and shape
// (Tensor.Data nil) and may refuse it: the server checks names and sizes
// against the model and reserves memory there.
func ReadRequest(r io.Reader, length, headerLen int64, lim Limits, check func(*Request) error) (*Request, error) {
	lim = lim.withDefaults()
	if length > lim.MaxBody {
		return nil, zoo.E("oip.Decode", zoo.TooLarge, nil, "the request body is larger than %d bytes; use an asynchronous job for large images", lim.MaxBody)
	}
	headLen := length
	if headerLen >= 0 {
		if headerLen > length {
			return nil, invalid("%s is %d, but the body has only %d bytes", HeaderLength, headerLen, length)
		}
		headLen = headerLen
	}
	head := make([]byte, headLen)
	if n, err := io.ReadFull(r, head); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, invalid("the body ended after %d bytes, before the %d announced", n, length)
		}
		return nil, err
	}
	skeleton, spans := skim(head)
	var w wireRequest
	if err := json.Unmarshal(skeleton, &w); err != nil {
		return nil, invalid("the request is not valid JSON: %v", err)
	}
	for i := range w.Inputs {
		if d := &w.Inputs[i].Data; i < len(spans) && spans[i] != nil && string(d.b) == "null" {
			d.b = spans[i]
		}
	}
	req := &Request{ID: w.ID, Processing: true}
	var err error
	if req.Processing, err = boolParam(w.Parameters, ParamProcessing, true); err != nil {
		return nil, err
	}
	if req.BinaryOutput, err = boolParam(w.Parameters, ParamBinaryOutput, false); err != nil {
		return nil, err
	}
	if err := checkParams(w.Parameters); err != nil {
		return nil, err
	}
	if len(w.Inputs) == 0 {
		return nil, invalid("the request has no inputs")
	}
	if len(w.Inputs) > lim.MaxTensors || len(w.Outputs) > lim.MaxTensors {
		return nil, zoo.E("oip.Decode", zoo.TooLarge, nil, "at most %d inputs and %d outputs per request", lim.MaxTensors, lim.MaxTensors)
	}
	seen := map[string]bool{}
	binSizes := make([]int64, len(w.Inputs)) // -1: JSON data
	var binTotal int64
	for i, in := range w.Inputs {
		if in.Name == "" {
			return nil, invalid("input %d has no name", i)
		}
		if seen[in.Name] {
			return nil, invalid("input %q is given twice", in.Name)
		}
		seen[in.Name] = true
		t, sz, err := inputHeader(in, lim)
		if err != nil {
			return nil, err
		}
		binSizes[i] = sz
		if sz > 0 {
			binTotal += sz
		}
		req.Inputs = append(req.Inputs, Input{Name: in.Name, Tensor: t})
	}
	if binTotal != length-headLen {
		return nil, invalid("the binary part of the body has %d bytes, but the inputs' %s add up to %d", length-headLen, ParamBinarySize, binTotal)
	}
	seen = map[string]bool{}
	for i, o := range w.Outputs {
		if o.Name == "" {
			return nil, invalid("requested output %d has no name", i)
		}
		if seen[o.Name] {
			return nil, invalid("output %q is requested twice", o.Name)
		}
		seen[o.Name] = true
		b, err := boolParam(o.Parameters, ParamBinary, req.BinaryOutput)
		if err != nil {
			return nil, err
		}
		if err := checkParams(o.Parameters); err != nil {
			return nil, err
		}
		req.Outputs = append(req.Outputs, OutputSpec{Name: o.Name, Binary: b})
	}
	if check != nil {
		if err := check(req); err != nil {
			return nil, err
		}
	}
	// Allocate and fill, binary parts in the order of the inputs.
	for i, in := range w.Inputs {
		t := req.Inputs[i].Tensor
		t.Data = make([]byte, t.Len()*t.DType.Size())
		if binSizes[i] >= 0 {
			if n, err := io.ReadFull(r, t.Data); err != nil {
				if err == io.ErrUnexpectedEOF || err == io.EOF {
					return nil, invalid("the body ended inside the binary data of input %s (%d of %d bytes)", in.Name, n, len(t.Data))
				}
				return nil, err
			}
		} else {
			got, err := fillJSON(in.Data.b, t, max(len(t.Shape), 1))
			if err != nil {
				return nil, invalid("input %s: %v", in.Name, err)
			}
			if got != t.Len() {
				return nil, invalid("input %s: shape %v has %d elements, but data has %d", in.Name, in.Shape, t.Len(), got)
			}
		}
		if err := checkFinite(in.Name, t); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// span is a JSON value kept as the text it was decoded from. An input's
// data array is replaced by null in the text encoding/json sees (skim), so
// what it hands over is short: null, or a value that is not an array
// (refused by fillJSON).
type span struct{ b []byte }

func (s *span) UnmarshalJSON(b []byte) error {
	s.b = append([]byte(nil), b...)
	return nil
}

// checkParams refuses parameter values that are not a string, number or
// bool, as the protocol defines them.
func checkParams(p map[string]json.RawMessage) error {
	for k, v := range p {
		if len(v) == 0 {
			continue
		}
		switch v[0] {
		case '{', '[', 'n':
			return invalid("parameter %q must be a string, number or bool", k)
		}
	}
	return nil
}

func boolParam(p map[string]json.RawMessage, key string, def bool) (bool, error) {
	v, ok := p[key]
	if !ok {
		return def, nil
	}
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid("parameter %q must be true or false, not %s", key, truncate(string(v)))
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// inputHeader checks one input's datatype, shape, parameters and data
// against the limits and returns its tensor without data (Data nil) and
// the size of its binary data, or -1 when its data is JSON (in.Data).
func inputHeader(in wireInput, lim Limits) (*tensor.Tensor, int64, error) {
	dt, ok := datatypes[in.Datatype]
	if !ok {
		if in.Datatype == "BYTES" {
			return nil, 0, zoo.E("oip.Decode", zoo.NotSupported, nil, "BYTES input %s: zoo's models take numeric tensors (BOOL, UINT8…UINT64, INT8…INT64, FP16, FP32, FP64)", in.Name)
		}
		return nil, 0, invalid("input %s has datatype %q; use one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64", in.Name, truncate(in.Datatype))
	}
	if in.Shape == nil {
		return nil, 0, invalid("input %s has no shape", in.Name)
	}
	if len(in.Shape) > tensor.MaxDims {
		return nil, 0, invalid("input %s has %d dimensions; at most %d", in.Name, len(in.Shape), tensor.MaxDims)
	}
	shape := make([]int, len(in.Shape))
	n := int64(1)
	for i, d := range in.Shape {
		if d < 0 {
			return nil, 0, invalid("input %s has a negative dimension %d", in.Name, d)
		}
		if d > int64(lim.MaxElements) || (d > 0 && n > int64(lim.MaxElements)/d) {
			return nil, 0, zoo.E("oip.Decode", zoo.TooLarge, nil, "input %s has more than %d elements", in.Name, lim.MaxElements)
		}
		n *= d
		shape[i] = int(d)
	}
	size, hasSize := in.Parameters[ParamBinarySize]
	if err := checkParams(in.Parameters); err != nil {
		return nil, 0, err
	}
	nbytes := n * int64(dt.Size())
	t := &tensor.Tensor{DType: dt, Shape: shape}
	data := in.Data.b
	if hasSize {
		if len(data) > 0 && string(data) != "null" {
			return nil, 0, invalid("input %s has both data and %s", in.Name, ParamBinarySize)
		}
		sz, err := strconv.ParseInt(string(size), 10, 64)
		if err != nil || sz < 0 {
			return nil, 0, invalid("input %s: %s must be a non-negative integer", in.Name, ParamBinarySize)
		}
		if sz != nbytes {
			return nil, 0, invalid("input %s: %s is %d, but shape %v of %s needs %d bytes", in.Name, ParamBinarySize, sz, in.Shape, in.Datatype, nbytes)
		}
		return t, nbytes, nil
	}
	if len(data) == 0 || string(data) == "null" {
		return nil, 0, invalid("input %s has neither data nor %s", in.Name, ParamBinarySize)
	}
	// Every JSON element takes at least two bytes with its separator:
	// refuse to allocate for a shape the data cannot fill.
	if n > int64(len(data)/2+1) {
		return nil, 0, invalid("input %s: shape %v has %d elements, but its data is too short to hold them", in.Name, in.Shape, n)
	}
	return t, -1, nil
}

// checkFinite refuses NaN and infinite values in a float tensor.
func checkFinite(name string, t *tensor.Tensor) error {
	switch t.DType {
	case tensor.Float32:
		for i, v := range t.Float32s() {
			if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
				return invalid("input %s has a NaN or infinite value at element %d; the model is not defined on them", name, i)
			}
		}
	case tensor.Float64, tensor.Float16:
		for i := range t.Len() {
			if v := t.Float64At(i); math.IsNaN(v) || math.IsInf(v, 0) {
				return invalid("input %s has a NaN or infinite value at element %d; the model is not defined on them", name, i)
			}
		}
	}
	return nil
}

// fillJSON writes the scalars of a JSON array (flat, or nested up to
// maxDepth levels) into t in row-major order and returns how many it
// found. It stops at t.Len() elements with an error if there are more.
func fillJSON(raw []byte, t *tensor.Tensor, maxDepth int) (int, error) {
	s := &scanner{b: raw, t: t, n: t.Len(), max: maxDepth}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return 0, fmt.Errorf("data must be an array")
	}
	if err := s.array(1); err != nil {
		return s.k, err
	}
	s.ws()
	if s.i != len(s.b) {
		return s.k, fmt.Errorf("unexpected text after data at byte %d", s.i)
	}
	return s.k, nil
}

type scanner struct {
	b   []byte
	i   int
	t   *tensor.Tensor
	k   int // elements written
	n   int // capacity
	max int // nesting limit
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// array reads an array at s.b[s.i] == '['.
func (s *scanner) array(depth int) error {
	if depth > s.max {
		return fmt.Errorf("data is nested deeper than the shape's %d dimensions", s.max)
	}
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) {
			return fmt.Errorf("data ends inside an array")
		}
		if s.b[s.i] == '[' {
			if err := s.array(depth + 1); err != nil {
				return err
			}
		} else if err := s.scalar(); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return fmt.Errorf("data ends inside an array")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return fmt.Errorf("unexpected %q at byte %d of data", s.b[s.i], s.i)
		}
	}
}

// scalar reads one number or bool and stores it.
func (s *scanner) scalar() error {
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == ',' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		s.i++
	}
	tok := s.b[start:s.i]
	if len(tok) == 0 {
		return fmt.Errorf("missing value at byte %d of data", start)
	}
	if s.k >= s.n {
		return fmt.Errorf("data has more elements than the shape")
	}
	if err := setElem(s.t, s.k, tok); err != nil {
		return fmt.Errorf("element %d: %v", s.k, err)
	}
	s.k++
	return nil
}

// setElem parses tok as element i of t.
func setElem(t *tensor.Tensor, i int, tok []byte) error {
	str := unsafe.String(&tok[0], len(tok)) // read-only view, not retained
	if str == "true" || str == "false" {
		if t.DType != tensor.Bool {
			return fmt.Errorf("%s in a %s tensor", str, Datatype(t.DType))
		}
		if str == "true" {
			t.Data[i] = 1
		}
		return nil
	}
	if c := tok[0]; c != '-' && (c < '0' || c > '9') {
		return fmt.Errorf("%q is not a number (strings and null are not tensor data)", truncate(str))
	}
	d := t.Data
	switch t.DType {
	case tensor.Float32:
		v, err := strconv.ParseFloat(str, 32)
		if err != nil {
			return fmt.Errorf("%q is not an FP32 number", truncate(str))
		}
		binary.LittleEndian.PutUint32(d[4*i:], math.Float32bits(float32(v)))
	case tensor.Float64:
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return fmt.Errorf("%q is not an FP64 number", truncate(str))
		}
		binary.LittleEndian.PutUint64(d[8*i:], math.Float64bits(v))
	case tensor.Float16:
		v, err := strconv.ParseFloat(str, 32)
		if err != nil || math.Abs(v) > 65504 {
			return fmt.Errorf("%q is not an FP16 number", truncate(str))
		}
		binary.LittleEndian.PutUint16(d[2*i:], tensor.Float32ToHalf(float32(v)))
	case tensor.Bool:
		switch str {
		case "0":
			d[i] = 0
		case "1":
			d[i] = 1
		default:
			return fmt.Errorf("%q is not a bool (true, false, 0 or 1)", truncate(str))
		}
	default:
		bits := t.DType.Size() * 8
		if strings.HasPrefix(string(t.DType), "uint") {
			v, err := strconv.ParseUint(str, 10, bits)
			if err != nil {
				return fmt.Errorf("%q is not a %s", truncate(str), Datatype(t.DType))
			}
			putUint(d, i, t.DType.Size(), v)
		} else {
			v, err := strconv.ParseInt(str, 10, bits)
			if err != nil {
				return fmt.Errorf("%q is not an %s", truncate(str), Datatype(t.DType))
			}
			putUint(d, i, t.DType.Size(), uint64(v))
		}
	}
	return nil
}

func putUint(d []byte, i, size int, v uint64) {
	switch size {
	case 1:
		d[i] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(d[2*i:], uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(d[4*i:], uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(d[8*i:], v)
	}
}

// appendJSONData appends elements from…to-1 of t as JSON array elements
// (separated by commas, a comma before the first unless it is element 0).
// NaN and infinities have no JSON form: they are an error naming the
// output.
func appendJSONData(b []byte, name string, t *tensor.Tensor, from, to int) ([]byte, error) {
	for i := from; i < to; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		switch t.DType {
		case tensor.Bool:
			if t.Data[i] != 0 {
				b = append(b, "true"...)
			} else {
				b = append(b, "false"...)
			}
		case tensor.Float32, tensor.Float16, tensor.Float64:
			v := t.Float64At(i)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, zoo.E("oip.Encode", zoo.Invalid, nil, "output %s has NaN or infinite values, which JSON cannot carry; request it as binary data (parameters {\"binary_data\": true})", name)
			}
			bits := 64
			if t.DType != tensor.Float64 {
				bits = 32
			}
			b = strconv.AppendFloat(b, v, 'g', -1, bits)
		case tensor.Uint64:
			b = strconv.AppendUint(b, binary.LittleEndian.Uint64(t.Data[8*i:]), 10)
		case tensor.Int64:
			b = strconv.AppendInt(b, int64(binary.LittleEndian.Uint64(t.Data[8*i:])), 10)
		default:
			b = strconv.AppendInt(b, int64(t.Float64At(i)), 10)
		}
	}
	return b, nil
}
