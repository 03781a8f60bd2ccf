//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/browserrun"
	"github.com/zoo-bioimage/zoo/tensor"
)

func main() {
	api := js.Global().Get("Object").New()
	api.Set("supported", js.FuncOf(supported))
	api.Set("run", js.FuncOf(run))
	api.Set("selfTest", js.FuncOf(selfTest))
	js.Global().Set("zooBrowserRun", api)
	if cb := js.Global().Get("zooBrowserRunReady"); cb.Type() == js.TypeFunction {
		cb.Invoke()
	}
	select {}
}

func bytesOf(v js.Value) []byte {
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

func toJS(b []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

func supported(_ js.Value, args []js.Value) any {
	if len(args) < 1 {
		return "no description"
	}
	m, err := browserrun.Decode(bytesOf(args[0]))
	if err == nil {
		err = browserrun.Supported(m)
	}
	if err != nil {
		var ze *zoo.Error
		if errors.As(err, &ze) && ze.Message != "" {
			return ze.Message
		}
		return err.Error()
	}
	return ""
}

// jsError makes a JavaScript Error for err.
func jsError(err error) js.Value {
	msg := err.Error()
	var ze *zoo.Error
	if errors.As(err, &ze) && ze.Message != "" {
		msg = ze.Message // without the kind, which the page words itself
	}
	e := js.Global().Get("Error").New(msg)
	e.Set("name", zoo.KindOf(err).String())
	return e
}

// promised runs f in a goroutine behind a JavaScript promise.
func promised(f func() (any, error)) js.Value {
	return js.Global().Get("Promise").New(js.FuncOf(func(_ js.Value, pa []js.Value) any {
		resolve, reject := pa[0], pa[1]
		go func() {
			v, err := f()
			if err != nil {
				reject.Invoke(jsError(err))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	}))
}

func selfTest(_ js.Value, args []js.Value) any {
	opts := args[0]
	return promised(func() (any, error) {
		m, err := browserrun.Decode(bytesOf(opts.Get("description")))
		if err != nil {
			return nil, err
		}
		return browserrun.SelfTest(context.Background(), m, jsModel{opts.Get("model")}, bytesOf(opts.Get("input")), bytesOf(opts.Get("output")))
	})
}

func run(_ js.Value, args []js.Value) any {
	opts := args[0]
	ctx, cancel := context.WithCancel(context.Background())
	var promise js.Value
	promise = js.Global().Get("Promise").New(js.FuncOf(func(_ js.Value, pa []js.Value) any {
		resolve, reject := pa[0], pa[1]
		go func() {
			defer cancel()
			res, err := runGo(ctx, opts)
			if err != nil {
				reject.Invoke(jsError(err))
				return
			}
			resolve.Invoke(res)
		}()
		return nil
	}))
	out := js.Global().Get("Object").New()
	out.Set("promise", promise)
	out.Set("cancel", js.FuncOf(func(js.Value, []js.Value) any { cancel(); return nil }))
	return out
}

func runGo(ctx context.Context, opts js.Value) (js.Value, error) {
	m, err := browserrun.Decode(bytesOf(opts.Get("description")))
	if err != nil {
		return js.Undefined(), err
	}
	progress := opts.Get("progress")
	req := browserrun.Request{Image: bytesOf(opts.Get("image")), Plane: opts.Get("plane").Int()}
	if progress.Type() == js.TypeFunction {
		req.Progress = func(done, total int) { progress.Invoke(done, total) }
	}
	res, err := browserrun.Run(ctx, m, jsModel{opts.Get("model")}, req)
	if err != nil {
		return js.Undefined(), err
	}
	o := js.Global().Get("Object").New()
	o.Set("tiff", toJS(res.TIFF))
	o.Set("npy", toJS(res.NPY))
	o.Set("inputPNG", toJS(res.InputPNG))
	o.Set("outputPNG", toJS(res.OutputPNG))
	notes := make([]any, len(res.Notes))
	for i, n := range res.Notes {
		notes[i] = n
	}
	o.Set("notes", js.ValueOf(notes))
	o.Set("blocks", res.Blocks)
	shape := make([]any, len(res.Shape))
	for i, n := range res.Shape {
		shape[i] = n
	}
	o.Set("shape", js.ValueOf(shape))
	return o, nil
}

// jsModel is a runner.Model whose Run is the page's async model function
// (ONNX Runtime Web's InferenceSession.run).
type jsModel struct{ fn js.Value }

func (m jsModel) Close() error { return nil }

func (m jsModel) Run(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	arr := make([]any, len(inputs))
	for i, t := range inputs {
		o := js.Global().Get("Object").New()
		o.Set("type", string(t.DType))
		dims := make([]any, len(t.Shape))
		for k, n := range t.Shape {
			dims[k] = n
		}
		o.Set("dims", js.ValueOf(dims))
		o.Set("data", toJS(t.Data))
		arr[i] = o
	}
	v, err := await(ctx, m.fn.Invoke(js.ValueOf(arr)))
	if err != nil {
		return nil, err
	}
	n := v.Get("length").Int()
	out := make([]*tensor.Tensor, n)
	for i := range n {
		o := v.Index(i)
		dt, err := tensor.ParseDType(o.Get("type").String())
		if err != nil {
			return nil, zoo.E("browserrun.model", zoo.NotSupported, err, "output %d has type %s", i, o.Get("type").String())
		}
		dl := o.Get("dims").Get("length").Int()
		shape := make([]int, dl)
		for k := range dl {
			shape[k] = o.Get("dims").Index(k).Int()
		}
		t := &tensor.Tensor{DType: dt, Shape: shape, Data: bytesOf(o.Get("data"))}
		if err := t.Validate(); err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// await waits for a JavaScript promise (from a goroutine, never the event
// loop's callback).
func await(ctx context.Context, p js.Value) (js.Value, error) {
	done := make(chan js.Value, 1)
	fail := make(chan js.Value, 1)
	// The callbacks are released when the promise settles, also after a
	// cancelled wait has returned (a released function must not be called).
	var then, catch js.Func
	var once sync.Once
	release := func() { once.Do(func() { then.Release(); catch.Release() }) }
	then = js.FuncOf(func(_ js.Value, a []js.Value) any { done <- a[0]; release(); return nil })
	catch = js.FuncOf(func(_ js.Value, a []js.Value) any { fail <- a[0]; release(); return nil })
	p.Call("then", then, catch)
	select {
	case v := <-done:
		return v, nil
	case e := <-fail:
		msg := e.String()
		if e.Type() == js.TypeObject && e.Get("message").Type() == js.TypeString {
			msg = e.Get("message").String()
		}
		return js.Undefined(), zoo.E("browserrun.model", zoo.Internal, errors.New(msg), "ONNX Runtime Web: %s", msg)
	case <-ctx.Done():
		return js.Undefined(), zoo.E("browserrun.model", zoo.Unavailable, ctx.Err(), "%s", fmt.Sprint("prediction cancelled"))
	}
}
