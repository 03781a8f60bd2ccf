// zootorch: see zootorch.h. Built by scripts/build-torch-shim.sh.
#include "zootorch.h"

#include <torch/script.h>
#include <torch/version.h>
#include <ATen/Parallel.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

struct zt_module {
  torch::jit::Module mod;
};

struct zt_result {
  std::vector<at::Tensor> outs;
  std::vector<std::vector<int64_t>> shapes;
};

namespace {

char *dup(const std::string &s) {
  char *p = static_cast<char *>(std::malloc(s.size() + 1));
  if (p == nullptr) return nullptr;
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = 0;
  return p;
}

// err formats an error string "<tag>: <message>".
char *err(const char *tag, const std::string &msg) {
  return dup(std::string(tag) + ": " + msg);
}

bool contains(const std::string &s, const char *sub) {
  return s.find(sub) != std::string::npos;
}

// loadTag tells a module libtorch cannot understand (newer operators, types
// or serialization versions) from a file that is not a module at all.
const char *loadTag(const std::string &msg) {
  for (const char *s : {"Unknown builtin op", "Unknown type name", "Unknown function",
                        "maximum supported version", "Arguments for call are not valid",
                        "is not supported in this version", "Unknown type constructor",
                        "Expected at most", "unknown keyword argument"}) {
    if (contains(msg, s)) return "operator";
  }
  return "file";
}

// tensorFits returns "" when the tensor's elements lie inside its storage,
// else what is wrong. libtorch 1.13 does not check this when it reads a
// file, so a truncated or damaged storage entry would make forward read
// outside its memory.
std::string tensorFits(const std::string &name, const at::Tensor &t) {
  if (!t.defined() || t.numel() == 0 || t.is_mkldnn() || !t.has_storage()) return "";
  int64_t last = t.storage_offset();
  for (int64_t d = 0; d < t.dim(); d++) {
    if (t.stride(d) < 0) return "tensor " + name + " has a negative stride";
    last += (t.size(d) - 1) * t.stride(d);
  }
  const uint64_t need = static_cast<uint64_t>(last + 1) * t.element_size();
  const uint64_t have = t.storage().nbytes();
  if (t.storage().data() == nullptr) {
    return "tensor " + name + " has no data in the file (a truncated or damaged entry)";
  }
  if (need > have) {
    return "tensor " + name + " needs " + std::to_string(need) + " bytes of data, its storage has " +
           std::to_string(have) + " (a damaged file)";
  }
  return "";
}

// checkTensors checks every tensor attribute of the module and its
// submodules, and every tensor constant of its code (traced modules keep
// some in constants.pkl).
std::string checkTensors(const torch::jit::Module &m) {
  for (const auto &a : m.named_attributes(/*recurse=*/true)) {
    if (a.value.isTensor()) {
      std::string e = tensorFits(a.name, a.value.toTensor());
      if (!e.empty()) return e;
    }
  }
  for (torch::jit::Function *f : m._ivalue()->compilation_unit()->get_functions()) {
    torch::jit::GraphFunction *g = torch::jit::tryToGraphFunction(*f);
    if (g == nullptr) continue;
    std::vector<torch::jit::Block *> blocks{g->graph()->block()};
    while (!blocks.empty()) {
      torch::jit::Block *b = blocks.back();
      blocks.pop_back();
      for (torch::jit::Node *n : b->nodes()) {
        for (torch::jit::Block *sub : n->blocks()) blocks.push_back(sub);
        if (n->kind() != c10::prim::Constant || n->outputs().size() != 1) continue;
        auto v = torch::jit::toIValue(n->output());
        if (v && v->isTensor()) {
          std::string e = tensorFits("constant of " + f->qualname().qualifiedName(), v->toTensor());
          if (!e.empty()) return e;
        }
      }
    }
  }
  return "";
}

}  // namespace

extern "C" {

int zt_abi(void) { return ZT_ABI; }

const char *zt_version(void) { return TORCH_VERSION; }

char *zt_set_threads(int n) {
  try {
    if (n < 1) return err("internal", "thread count must be at least 1");
    at::set_num_threads(n);
    return nullptr;
  } catch (const c10::Error &e) {
    return err("internal", e.what_without_backtrace());
  } catch (const std::exception &e) {
    return err("internal", e.what());
  } catch (...) {
    return err("internal", "unknown C++ exception");
  }
}

char *zt_load(const char *path, int optimize, zt_module **out, int *nargs,
              int *nrequired, int *optimized) {
  *out = nullptr;
  *optimized = 0;
  try {
    auto m = std::make_unique<zt_module>();
    m->mod = torch::jit::load(std::string(path), torch::kCPU);
    m->mod.eval();
    auto method = m->mod.find_method("forward");
    if (!method) return err("file", "the module has no forward method");
    std::string bad = checkTensors(m->mod);
    if (!bad.empty()) return err("file", bad);
    if (optimize) {
      try {
        m->mod = torch::jit::optimize_for_inference(m->mod);
        *optimized = 1;
        method = m->mod.find_method("forward");
        if (!method) return err("file", "the module has no forward method");
      } catch (...) {
        // Not every module freezes (e.g. one that sets attributes in
        // forward); run it as loaded.
        m->mod = torch::jit::load(std::string(path), torch::kCPU);
        m->mod.eval();
        method = m->mod.find_method("forward");
        if (!method) return err("file", "the module has no forward method");
      }
    }
    const auto &args = method->function().getSchema().arguments();
    int n = 0, req = 0;
    for (size_t i = 0; i < args.size(); i++) {
      if (i == 0 && args[i].name() == "self") continue;
      n++;
      if (!args[i].default_value()) req++;
    }
    *nargs = n;
    *nrequired = req;
    *out = m.release();
    return nullptr;
  } catch (const c10::Error &e) {
    std::string msg = e.what_without_backtrace();
    return err(loadTag(msg), msg);
  } catch (const std::bad_alloc &) {
    return err("internal", "out of memory");
  } catch (const std::exception &e) {
    std::string msg = e.what();
    return err(loadTag(msg), msg);
  } catch (...) {
    return err("internal", "unknown C++ exception");
  }
}

char *zt_forward(zt_module *m, int n, const void *const *data,
                 const int64_t *const *shapes, const int *ndims,
                 zt_result **out) {
  *out = nullptr;
  if (m == nullptr) return err("internal", "module is closed");
  try {
    c10::InferenceMode guard;
    std::vector<torch::jit::IValue> in;
    in.reserve(n);
    for (int i = 0; i < n; i++) {
      std::vector<int64_t> shape(shapes[i], shapes[i] + ndims[i]);
      at::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(torch::kFloat32));
      std::memcpy(t.data_ptr<float>(), data[i], t.numel() * sizeof(float));
      in.emplace_back(std::move(t));
    }
    torch::jit::IValue res = m->mod.forward(std::move(in));
    std::vector<torch::jit::IValue> vals;
    if (res.isTensor()) {
      vals.push_back(res);
    } else if (res.isTuple()) {
      for (const auto &v : res.toTupleRef().elements()) vals.push_back(v);
    } else if (res.isList()) {
      for (const auto &v : res.toListRef()) vals.push_back(v);
    } else {
      return err("input", "forward returned a " + res.tagKind() + "; zoo takes a tensor or a tuple or list of tensors");
    }
    auto r = std::make_unique<zt_result>();
    for (size_t i = 0; i < vals.size(); i++) {
      if (!vals[i].isTensor()) {
        return err("input", "output " + std::to_string(i) + " of forward is a " + vals[i].tagKind() + ", not a tensor");
      }
      at::Tensor t = vals[i].toTensor().to(torch::kCPU, torch::kFloat32).contiguous();
      r->shapes.emplace_back(t.sizes().begin(), t.sizes().end());
      r->outs.push_back(std::move(t));
    }
    *out = r.release();
    return nullptr;
  } catch (const c10::Error &e) {
    return err("input", e.what_without_backtrace());
  } catch (const std::bad_alloc &) {
    return err("internal", "out of memory");
  } catch (const std::exception &e) {
    return err("input", e.what());
  } catch (...) {
    return err("internal", "unknown C++ exception");
  }
}

int zt_result_count(const zt_result *r) { return static_cast<int>(r->outs.size()); }

int zt_result_ndim(const zt_result *r, int i) { return static_cast<int>(r->shapes[i].size()); }

const int64_t *zt_result_shape(const zt_result *r, int i) { return r->shapes[i].data(); }

const float *zt_result_data(const zt_result *r, int i) { return r->outs[i].data_ptr<float>(); }

void zt_result_free(zt_result *r) { delete r; }

void zt_module_free(zt_module *m) { delete m; }

void zt_free(char *s) { std::free(s); }

}  // extern "C"
