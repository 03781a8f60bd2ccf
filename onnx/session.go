package onnx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Options tune a Session. The zero value is the default.
type Options struct {
	// IntraOpThreads is the size of ORT's thread pool for one operator;
	// 0 means runtime.NumCPU(). Concurrent Run calls on one Session share
	// the pool.
	IntraOpThreads int
}

// TensorInfo describes one model input or output as the ONNX graph declares
// it.
type TensorInfo struct {
	Name  string       // the graph's name, which need not be the description's tensor id
	DType tensor.DType // element type
	// Shape has -1 for each dynamic (symbolic or unknown) dimension, and is
	// nil when the model declares no rank.
	Shape []int64
}

// Session is a loaded ONNX model. Its methods are safe for concurrent use;
// Close waits for running calls to finish.
type Session struct {
	name    string // file base name, for messages
	inputs  []TensorInfo
	outputs []TensorInfo

	mu   sync.RWMutex // Run holds it shared, Close exclusively
	sess *ort.DynamicAdvancedSession
}

// Load reads the ONNX model at path and prepares it for Run on the CPU.
//
// Errors: zoo.NotFound if path does not exist; zoo.Invalid if it is not a
// readable ONNX model (a corrupt, truncated or non-ONNX file); zoo.NotSupported
// if the model uses an operator or opset this ORT lacks, or an input or output
// that is not a tensor of a supported dtype (bool, int8…int64, uint8…uint64,
// float32, float64; float16 is not supported); zoo.Internal if ORT cannot be
// loaded (see Init).
func Load(path string, opts Options) (*Session, error) {
	const op = "onnx.Load"
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, zoo.E(op, zoo.NotFound, err, "model file %s does not exist", path)
		}
		return nil, zoo.E(op, zoo.Invalid, err, "cannot read model file %s", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, zoo.E(op, zoo.Invalid, nil, "model file %s is not a regular file", path)
	}
	if fi.Size() == 0 {
		return nil, zoo.E(op, zoo.Invalid, nil, "model file %s is empty, not an ONNX model", path)
	}
	if opts.IntraOpThreads < 0 {
		return nil, zoo.E(op, zoo.Invalid, nil, "IntraOpThreads is %d; use 0 for the default or a positive count", opts.IntraOpThreads)
	}
	if err := Init(); err != nil {
		return nil, err
	}
	name := filepath.Base(path)

	// The wrapper needs the input and output names before it creates the
	// session, so read them from a cheap unoptimised session first.
	inInfo, outInfo, err := readInfo(path)
	if err != nil {
		return nil, loadError(op, path, err)
	}
	s := &Session{name: name}
	if s.inputs, err = convertInfo(inInfo, "input"); err != nil {
		return nil, zoo.E(op, zoo.NotSupported, nil, "model %s: %s", name, err)
	}
	if s.outputs, err = convertInfo(outInfo, "output"); err != nil {
		return nil, zoo.E(op, zoo.NotSupported, nil, "model %s: %s", name, err)
	}
	if len(s.outputs) == 0 {
		return nil, zoo.E(op, zoo.Invalid, nil, "model %s has no outputs", name)
	}

	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot create ONNX Runtime session options")
	}
	defer so.Destroy()
	threads := opts.IntraOpThreads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot set %d intra-op threads", threads)
	}
	s.sess, err = ort.NewDynamicAdvancedSession(path, names(s.inputs), names(s.outputs), so)
	if err != nil {
		return nil, loadError(op, path, err)
	}
	return s, nil
}

// readInfo returns the model's inputs and outputs from a session created
// without graph optimisation on one thread, which is quick to build.
func readInfo(path string) (in, out []ort.InputOutputInfo, err error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, nil, err
	}
	defer so.Destroy()
	if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
		return nil, nil, err
	}
	if err := so.SetIntraOpNumThreads(1); err != nil {
		return nil, nil, err
	}
	return ort.GetInputOutputInfoWithOptions(path, so)
}

// loadError classifies an ORT failure to create a session.
func loadError(op, path string, err error) error {
	msg := err.Error()
	for _, s := range []string{
		"Could not find an implementation",
		"is not a registered function/op",
		"Unsupported model IR version",
		"Unsupported ONNX opset",
	} {
		if strings.Contains(msg, s) {
			return zoo.E(op, zoo.NotSupported, err,
				"ONNX Runtime %s cannot run model %s (an operator or opset it lacks)", ort.GetVersion(), path)
		}
	}
	return zoo.E(op, zoo.Invalid, err, "%s is not a valid ONNX model (corrupt, truncated or another format)", path)
}

// Name returns the model file's base name.
func (s *Session) Name() string { return s.name }

// Inputs describes the model's inputs in graph order, the order Run takes.
// The result is a copy.
func (s *Session) Inputs() []TensorInfo { return cloneInfo(s.inputs) }

// Outputs describes the model's outputs in graph order, the order Run
// returns. The result is a copy.
func (s *Session) Outputs() []TensorInfo { return cloneInfo(s.outputs) }

func cloneInfo(ts []TensorInfo) []TensorInfo {
	c := make([]TensorInfo, len(ts))
	for i, t := range ts {
		c[i] = t
		if t.Shape != nil {
			c[i].Shape = append([]int64(nil), t.Shape...)
		}
	}
	return c
}

// Run is RunContext without cancellation.
func (s *Session) Run(inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return s.RunContext(context.Background(), inputs)
}

// RunContext runs the model on inputs and returns its outputs. Inputs and
// outputs are bound by position, in the order of Inputs and Outputs (graph
// names are ignored: they often differ from the description's tensor ids).
//
// Before calling ORT it checks the input count, each input's dtype, rank and
// static dimensions, and that each input has elements and a Data of the
// right length (all zoo.Invalid). Output shapes come from the run, so models
// whose output size depends on the input size are fine. Inputs are read, not
// modified or retained; outputs are fresh tensors owned by the caller, with
// Axes nil.
//
// When ctx is cancelled the run is asked to stop, and RunContext returns an
// error of kind zoo.Unavailable that wraps ctx.Err(). An ORT failure during
// the run (typically an input size the architecture cannot take) is
// zoo.Invalid with ORT's message. Run after Close is zoo.Internal.
func (s *Session) RunContext(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	const op = "onnx.Run"
	if err := s.check(inputs); err != nil {
		return nil, zoo.E(op, zoo.Invalid, nil, "model %s: %s", s.name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, zoo.E(op, zoo.Unavailable, err, "model %s: run cancelled", s.name)
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.sess == nil {
		return nil, zoo.E(op, zoo.Internal, nil, "model %s: session is closed", s.name)
	}

	in := make([]ort.Value, len(inputs))
	defer func() {
		for _, v := range in {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, t := range inputs {
		v, err := ort.NewCustomDataTensor(ortShape(t.Shape), alignedData(t), ortDTypes[t.DType])
		if err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "model %s: cannot wrap input %d (%s)", s.name, i, s.inputs[i].Name)
		}
		in[i] = v
	}
	out := make([]ort.Value, len(s.outputs)) // nil: ORT allocates each output
	defer func() {
		for _, v := range out {
			if v != nil {
				v.Destroy()
			}
		}
	}()

	var err error
	if ctx.Done() == nil {
		err = s.sess.Run(in, out)
	} else {
		err = runCancellable(ctx, s.sess, in, out)
	}
	if cerr := ctx.Err(); err != nil && cerr != nil {
		return nil, zoo.E(op, zoo.Unavailable, cerr, "model %s: run cancelled", s.name)
	}
	if err != nil {
		return nil, zoo.E(op, zoo.Invalid, err, "model %s: ONNX Runtime failed on inputs %s", s.name, describe(inputs))
	}
	runtime.KeepAlive(inputs) // ORT read their Data in place

	res := make([]*tensor.Tensor, len(out))
	for i, v := range out {
		t, err := fromORT(v)
		if err != nil {
			return nil, zoo.E(op, zoo.NotSupported, err, "model %s: output %d (%s)", s.name, i, s.outputs[i].Name)
		}
		res[i] = t
	}
	return res, nil
}

// runCancellable runs the session with RunOptions that are terminated when
// ctx is done.
func runCancellable(ctx context.Context, sess *ort.DynamicAdvancedSession, in, out []ort.Value) error {
	ro, err := ort.NewRunOptions()
	if err != nil {
		return err
	}
	defer ro.Destroy()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			ro.Terminate()
		case <-done:
		}
	}()
	err = sess.RunWithOptions(in, out, ro)
	close(done)
	<-stopped // ro must outlive Terminate
	return err
}

// Close releases the model. It waits for running calls; later calls fail.
// Close is idempotent.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		return nil
	}
	err := s.sess.Destroy()
	s.sess = nil
	if err != nil {
		return zoo.E("onnx.Close", zoo.Internal, err, "model %s", s.name)
	}
	return nil
}

// check validates inputs against the model; its message names the input.
func (s *Session) check(inputs []*tensor.Tensor) error {
	if len(inputs) != len(s.inputs) {
		return fmt.Errorf("expects %d input(s) (%s), got %d", len(s.inputs), strings.Join(names(s.inputs), ", "), len(inputs))
	}
	for i, t := range inputs {
		want := s.inputs[i]
		id := fmt.Sprintf("input %d (%s)", i, want.Name)
		if t == nil {
			return fmt.Errorf("%s is nil", id)
		}
		if t.DType != want.DType {
			return fmt.Errorf("%s expects dtype %s, got %s", id, want.DType, t.DType)
		}
		if want.Shape != nil && !shapeFits(want.Shape, t.Shape) {
			return fmt.Errorf("%s expects shape %s, got %v", id, fmtShape(want.Shape), t.Shape)
		}
		if len(t.Shape) == 0 {
			return fmt.Errorf("%s is a scalar; zoo passes only tensors of rank ≥ 1", id)
		}
		n := tensor.NumElements(t.Shape)
		if n <= 0 {
			return fmt.Errorf("%s has shape %v, which has no elements or is too large", id, t.Shape)
		}
		if len(t.Data) != n*t.DType.Size() {
			return fmt.Errorf("%s of shape %v and dtype %s needs %d bytes of data, has %d", id, t.Shape, t.DType, n*t.DType.Size(), len(t.Data))
		}
	}
	return nil
}

// shapeFits reports whether got has want's rank and matches each static
// dimension of want.
func shapeFits(want []int64, got []int) bool {
	if len(want) != len(got) {
		return false
	}
	for i, d := range want {
		if d >= 0 && int64(got[i]) != d {
			return false
		}
	}
	return true
}

func describe(ts []*tensor.Tensor) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s%v", t.DType, t.Shape)
	}
	return strings.Join(parts, ", ")
}

func names(ts []TensorInfo) []string {
	n := make([]string, len(ts))
	for i, t := range ts {
		n[i] = t.Name
	}
	return n
}

// ortDTypes maps the dtypes zoo passes to ORT element types.
var ortDTypes = map[tensor.DType]ort.TensorElementDataType{
	tensor.Bool:    ort.TensorElementDataTypeBool,
	tensor.Int8:    ort.TensorElementDataTypeInt8,
	tensor.Int16:   ort.TensorElementDataTypeInt16,
	tensor.Int32:   ort.TensorElementDataTypeInt32,
	tensor.Int64:   ort.TensorElementDataTypeInt64,
	tensor.Uint8:   ort.TensorElementDataTypeUint8,
	tensor.Uint16:  ort.TensorElementDataTypeUint16,
	tensor.Uint32:  ort.TensorElementDataTypeUint32,
	tensor.Uint64:  ort.TensorElementDataTypeUint64,
	tensor.Float32: ort.TensorElementDataTypeFloat,
	tensor.Float64: ort.TensorElementDataTypeDouble,
}

// convertInfo turns ORT's descriptions into TensorInfos, failing on
// non-tensor values and unsupported dtypes. kind is "input" or "output".
func convertInfo(infos []ort.InputOutputInfo, kind string) ([]TensorInfo, error) {
	res := make([]TensorInfo, len(infos))
	for i, info := range infos {
		if info.OrtValueType != ort.ONNXTypeTensor {
			return nil, fmt.Errorf("%s %d (%s) is a %s, not a dense tensor", kind, i, info.Name, info.OrtValueType)
		}
		dt, ok := zooDType(info.DataType)
		if !ok {
			return nil, fmt.Errorf("%s %d (%s) has element type %s; zoo supports bool, int8…int64, uint8…uint64, float32 and float64",
				kind, i, info.Name, strings.TrimPrefix(info.DataType.String(), "ONNX_TENSOR_ELEMENT_DATA_TYPE_"))
		}
		var shape []int64
		if len(info.Dimensions) > 0 {
			shape = make([]int64, len(info.Dimensions))
			for j, d := range info.Dimensions {
				if d <= 0 {
					d = -1 // ORT reports symbolic dims as -1; treat 0 as unknown too
				}
				shape[j] = d
			}
		}
		res[i] = TensorInfo{Name: info.Name, DType: dt, Shape: shape}
	}
	return res, nil
}

func zooDType(t ort.TensorElementDataType) (tensor.DType, bool) {
	for d, o := range ortDTypes {
		if o == t {
			return d, true
		}
	}
	return "", false
}

func ortShape(s []int) ort.Shape {
	r := make(ort.Shape, len(s))
	for i, d := range s {
		r[i] = int64(d)
	}
	return r
}

// alignedData returns t.Data, or a copy of it when its address is not a
// multiple of the element size (e.g. a sub-slice), since ORT kernels assume
// aligned elements.
func alignedData(t *tensor.Tensor) []byte {
	size := t.DType.Size()
	if size <= 1 || uintptr(unsafe.Pointer(unsafe.SliceData(t.Data)))%uintptr(size) == 0 {
		return t.Data
	}
	buf := make([]uint64, (len(t.Data)+7)/8) // 8-byte aligned backing
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), len(t.Data))
	copy(b, t.Data)
	return b
}

// fromORT converts an output the wrapper allocated (and copied into Go
// memory) to a tensor, sharing that memory instead of copying it again.
func fromORT(v ort.Value) (*tensor.Tensor, error) {
	switch v := v.(type) {
	case *ort.Tensor[float32]:
		return wrapOutput(v, tensor.Float32), nil
	case *ort.Tensor[float64]:
		return wrapOutput(v, tensor.Float64), nil
	case *ort.Tensor[int8]:
		return wrapOutput(v, tensor.Int8), nil
	case *ort.Tensor[int16]:
		return wrapOutput(v, tensor.Int16), nil
	case *ort.Tensor[int32]:
		return wrapOutput(v, tensor.Int32), nil
	case *ort.Tensor[int64]:
		return wrapOutput(v, tensor.Int64), nil
	case *ort.Tensor[uint8]:
		return wrapOutput(v, tensor.Uint8), nil
	case *ort.Tensor[uint16]:
		return wrapOutput(v, tensor.Uint16), nil
	case *ort.Tensor[uint32]:
		return wrapOutput(v, tensor.Uint32), nil
	case *ort.Tensor[uint64]:
		return wrapOutput(v, tensor.Uint64), nil
	case *ort.Tensor[bool]:
		return wrapOutput(v, tensor.Bool), nil // Go bools are one byte, 0 or 1
	case nil:
		return nil, errors.New("ONNX Runtime returned no value")
	}
	return nil, fmt.Errorf("ONNX Runtime returned a %s of element type %s, which zoo does not read", v.GetONNXType(), ort.TensorElementDataType(v.DataType()))
}

func wrapOutput[T ort.TensorData](v *ort.Tensor[T], dt tensor.DType) *tensor.Tensor {
	data := v.GetData()
	shape := v.GetShape()
	t := &tensor.Tensor{DType: dt, Shape: make([]int, len(shape))}
	for i, d := range shape {
		t.Shape[i] = int(d)
	}
	if len(data) > 0 {
		var zero T
		t.Data = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), len(data)*int(unsafe.Sizeof(zero)))
	} else {
		t.Data = []byte{}
	}
	return t
}
