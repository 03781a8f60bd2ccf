package torch

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include "shim/zootorch.h"

// The shim's functions, looked up with dlsym by zt_open.
static struct {
	__typeof__(zt_abi) *abi;
	__typeof__(zt_version) *version;
	__typeof__(zt_set_threads) *set_threads;
	__typeof__(zt_load) *load;
	__typeof__(zt_forward) *forward;
	__typeof__(zt_result_count) *result_count;
	__typeof__(zt_result_ndim) *result_ndim;
	__typeof__(zt_result_shape) *result_shape;
	__typeof__(zt_result_data) *result_data;
	__typeof__(zt_result_free) *result_free;
	__typeof__(zt_module_free) *module_free;
	__typeof__(zt_free) *free;
} zt;

// zt_open loads the shim; on failure it returns a malloc'd message.
static char *zt_open(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		return strdup(e ? e : "dlopen failed");
	}
#define SYM(field, name) \
	*(void **)(&zt.field) = dlsym(h, name); \
	if (zt.field == NULL) { dlclose(h); return strdup("the library has no symbol " name " (rebuild it with make build)"); }
	SYM(abi, "zt_abi")
	SYM(version, "zt_version")
	SYM(set_threads, "zt_set_threads")
	SYM(load, "zt_load")
	SYM(forward, "zt_forward")
	SYM(result_count, "zt_result_count")
	SYM(result_ndim, "zt_result_ndim")
	SYM(result_shape, "zt_result_shape")
	SYM(result_data, "zt_result_data")
	SYM(result_free, "zt_result_free")
	SYM(module_free, "zt_module_free")
	SYM(free, "zt_free")
#undef SYM
	return NULL;
}

static int c_abi(void) { return zt.abi(); }
static const char *c_version(void) { return zt.version(); }
static char *c_set_threads(int n) { return zt.set_threads(n); }
static char *c_load(const char *path, int optimize, zt_module **out, int *nargs, int *nreq, int *optimized) {
	return zt.load(path, optimize, out, nargs, nreq, optimized);
}
static char *c_forward(zt_module *m, int n, const void *const *data, const int64_t *const *shapes, const int *ndims, zt_result **out) {
	return zt.forward(m, n, data, shapes, ndims, out);
}
static int c_result_count(const zt_result *r) { return zt.result_count(r); }
static int c_result_ndim(const zt_result *r, int i) { return zt.result_ndim(r, i); }
static const int64_t *c_result_shape(const zt_result *r, int i) { return zt.result_shape(r, i); }
static const float *c_result_data(const zt_result *r, int i) { return zt.result_data(r, i); }
static void c_result_free(zt_result *r) { zt.result_free(r); }
static void c_module_free(zt_module *m) { zt.module_free(m); }
static void c_free(char *s) { zt.free(s); }
*/
import "C"

import (
	"runtime"
	"strings"
	"unsafe"

	"github.com/zoo-bioimage/zoo"
)

// abi is the interface version of torch/shim/zootorch.h this package
// speaks.
const abi = C.ZT_ABI

// openShim dlopens the shim at path and checks its interface version. It
// returns libtorch's version. Called once, under initMu.
func openShim(path string) (string, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if msg := C.zt_open(cpath); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return "", notInstalled(zoo.E("", zoo.Internal, nil, "cannot load %s: %s", path, C.GoString(msg)))
	}
	if v := C.c_abi(); v != abi {
		return "", zoo.E("torch.Init", zoo.Internal, nil, "%s implements shim interface %d, zoo needs %d; run make build to rebuild it", path, int(v), abi)
	}
	return C.GoString(C.c_version()), nil
}

// shimError is an error string from the shim: its class tag and message.
type shimError struct {
	class string // file, operator, input or internal
	msg   string
}

func (e *shimError) Error() string { return e.msg }

// takeError converts and frees a shim error string; nil stays nil.
func takeError(s *C.char) *shimError {
	if s == nil {
		return nil
	}
	msg := C.GoString(s)
	C.c_free(s)
	class, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		return &shimError{class: "internal", msg: msg}
	}
	return &shimError{class: class, msg: rest}
}

func setThreads(n int) *shimError { return takeError(C.c_set_threads(C.int(n))) }

// loadModule loads a module, optimised for inference if asked and
// possible; its handle is nil on error.
func loadModule(path string, optimize bool) (h *C.zt_module, nargs, nrequired int, optimized bool, err *shimError) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var n, req, opt C.int
	o := C.int(0)
	if optimize {
		o = 1
	}
	if e := takeError(C.c_load(cpath, o, &h, &n, &req, &opt)); e != nil {
		return nil, 0, 0, false, e
	}
	return h, int(n), int(req), opt != 0, nil
}

func freeModule(h *C.zt_module) { C.c_module_free(h) }

// forward runs the module on float32 inputs given as packed little-endian
// bytes with their shapes, and returns the outputs' float32 values and
// shapes.
func forward(h *C.zt_module, data [][]byte, shapes [][]int) (outs [][]float32, outShapes [][]int, err *shimError) {
	n := len(data)
	// The arrays of pointers, shapes and ranks live in C memory; the data
	// stay in Go memory, pinned for the call (the shim copies them).
	k := C.size_t(max(n, 1))
	cdata := unsafe.Slice((*unsafe.Pointer)(C.calloc(k, C.size_t(unsafe.Sizeof(unsafe.Pointer(nil))))), n)
	cshapes := unsafe.Slice((**C.int64_t)(C.calloc(k, C.size_t(unsafe.Sizeof((*C.int64_t)(nil))))), n)
	cndims := unsafe.Slice((*C.int)(C.calloc(k, C.size_t(unsafe.Sizeof(C.int(0))))), n)
	defer func() {
		for _, s := range cshapes {
			C.free(unsafe.Pointer(s))
		}
		C.free(unsafe.Pointer(unsafe.SliceData(cdata)))
		C.free(unsafe.Pointer(unsafe.SliceData(cshapes)))
		C.free(unsafe.Pointer(unsafe.SliceData(cndims)))
	}()
	var pin runtime.Pinner
	defer pin.Unpin()
	for i := range data {
		if len(data[i]) > 0 {
			p := unsafe.Pointer(unsafe.SliceData(data[i]))
			pin.Pin(p)
			cdata[i] = p
		}
		nd := len(shapes[i])
		cndims[i] = C.int(nd)
		s := unsafe.Slice((*C.int64_t)(C.calloc(C.size_t(max(nd, 1)), 8)), nd)
		for j, d := range shapes[i] {
			s[j] = C.int64_t(d)
		}
		cshapes[i] = unsafe.SliceData(s)
	}
	var res *C.zt_result
	if e := takeError(C.c_forward(h, C.int(n),
		(*unsafe.Pointer)(unsafe.SliceData(cdata)),
		(**C.int64_t)(unsafe.SliceData(cshapes)),
		(*C.int)(unsafe.SliceData(cndims)), &res)); e != nil {
		return nil, nil, e
	}
	defer C.c_result_free(res)
	count := int(C.c_result_count(res))
	for i := 0; i < count; i++ {
		nd := int(C.c_result_ndim(res, C.int(i)))
		shape := make([]int, nd)
		elems := 1
		if nd > 0 {
			cs := unsafe.Slice(C.c_result_shape(res, C.int(i)), nd)
			for j := range cs {
				shape[j] = int(cs[j])
				elems *= shape[j]
			}
		}
		vals := make([]float32, elems)
		if elems > 0 {
			copy(vals, unsafe.Slice((*float32)(unsafe.Pointer(C.c_result_data(res, C.int(i)))), elems))
		}
		outs = append(outs, vals)
		outShapes = append(outShapes, shape)
	}
	return outs, outShapes, nil
}

// moduleHandle holds a shim module pointer.
type moduleHandle struct{ h *C.zt_module }
