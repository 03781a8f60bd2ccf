/*
 * zootorch: zoo's C interface to libtorch (TorchScript on the CPU).
 *
 * Built as its own shared library (lib/libzootorch.so, by
 * scripts/build-torch-shim.sh) and loaded by package torch with dlopen, so
 * that zoo builds and starts where libtorch is absent. Every function
 * catches every C++ exception: errors come back as strings, never as
 * exceptions across this boundary.
 *
 * Error strings are allocated with malloc and freed with zt_free. They
 * start with a class tag the Go side maps to an error kind:
 *   "file: "     the file is not a loadable TorchScript module;
 *   "operator: " the module uses an operator or type this libtorch lacks;
 *   "input: "    forward rejected the inputs (shape, rank, count);
 *   "internal: " anything else.
 */
#ifndef ZOOTORCH_H
#define ZOOTORCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZT_ABI 2

typedef struct zt_module zt_module;
typedef struct zt_result zt_result;

/* The interface version (ZT_ABI) the library implements. */
int zt_abi(void);

/* The libtorch version the library was built against, e.g. "1.13.0". */
const char *zt_version(void);

/* Sets libtorch's intra-op thread count (process-wide). */
char *zt_set_threads(int n);

/* Loads a TorchScript module from path onto the CPU in eval mode. With
 * optimize set, the module is then frozen and optimised for inference
 * (torch::jit::optimize_for_inference: constants folded, oneDNN
 * convolutions); when that fails the module is kept as loaded and
 * *optimized is 0. On success *out is the module and *nargs and
 * *nrequired are the number of arguments of forward (without self) and of
 * those without a default. */
char *zt_load(const char *path, int optimize, zt_module **out, int *nargs,
              int *nrequired, int *optimized);

/* Runs forward on n float32 tensors: data[i] holds the C-order elements
 * of shape shapes[i] (ndims[i] dimensions); the bytes are copied, never
 * retained or modified. forward may return a tensor or a tuple or list of
 * tensors; each becomes a contiguous float32 output. */
char *zt_forward(zt_module *m, int n, const void *const *data,
                 const int64_t *const *shapes, const int *ndims,
                 zt_result **out);

int zt_result_count(const zt_result *r);
int zt_result_ndim(const zt_result *r, int i);
const int64_t *zt_result_shape(const zt_result *r, int i);
const float *zt_result_data(const zt_result *r, int i);
void zt_result_free(zt_result *r);

void zt_module_free(zt_module *m);
void zt_free(char *s);

#ifdef __cplusplus
}
#endif

#endif
