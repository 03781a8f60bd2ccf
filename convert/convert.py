# zoo's converter: loads a pytorch_state_dict model (a stranger's
# architecture file and weights) and writes TorchScript and ONNX weights.
# zoo runs this program inside its sandbox (package sandbox): read-only
# package at the job's "package" path, writable "out" folder, no network.
#
# Input: the path of a job JSON (see convert.go, type job). Output: out/
# result.json (see type result) and the weights files; progress lines on
# stderr. Imports only the standard library, torch, numpy and the
# package's architecture module.
import importlib.util
import json
import os
import sys
import traceback


def progress(msg):
    print("progress: " + msg, file=sys.stderr, flush=True)


job = json.load(open(sys.argv[1]))
out_dir = job["out"]
result = {"formats": {}}


def save_result():
    tmp = os.path.join(out_dir, "result.json.tmp")
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, os.path.join(out_dir, "result.json"))


def fail(kind, message, **extra):
    result["error"] = dict(kind=kind, message=message, **extra)
    save_result()
    sys.exit(0)


progress("starting PyTorch")
try:
    import numpy as np
    import torch
except Exception as e:  # noqa: BLE001
    fail("no-torch", "PyTorch cannot be imported: %s" % e)
result["torch_version"] = torch.__version__.split("+")[0]
torch.set_num_threads(max(1, int(os.environ.get("ZOO_THREADS", "1"))))

# The architecture: a file of the package, imported as a module whose
# folder is on the path (so it may import its sibling files).
progress("importing the architecture " + job["architecture"])
arch_path = job["architecture"]
sys.path.insert(0, os.path.dirname(arch_path))
mod_name = os.path.splitext(os.path.basename(arch_path))[0]
try:
    spec = importlib.util.spec_from_file_location(mod_name, arch_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
except ModuleNotFoundError as e:
    fail("missing-module", str(e), module=e.name or "")
except SyntaxError as e:
    fail("architecture", "the architecture file has a syntax error: %s (line %s)" % (e.msg, e.lineno))
except MemoryError:
    fail("memory", "the architecture file ran out of memory while being imported")
except BaseException as e:  # noqa: BLE001
    fail("architecture", "importing the architecture file failed: %s: %s" % (type(e).__name__, e),
         trace=traceback.format_exc(limit=-3))

callable_name = job["callable"]
target = getattr(module, callable_name, None)
if target is None or not callable(target):
    names = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
    fail("callable", "the architecture file has no callable %r" % callable_name, available=names[:20])

progress("building %s(**kwargs)" % callable_name)
try:
    model = target(**job.get("kwargs", {}))
except TypeError as e:
    fail("kwargs", "%s(**kwargs) failed: %s" % (callable_name, e))
except MemoryError:
    fail("memory", "building the model ran out of memory")
except BaseException as e:  # noqa: BLE001
    fail("architecture", "%s(**kwargs) failed: %s: %s" % (callable_name, type(e).__name__, e),
         trace=traceback.format_exc(limit=-3))
if not isinstance(model, torch.nn.Module):
    fail("callable", "%s(**kwargs) returned a %s, not a torch.nn.Module" % (callable_name, type(model).__name__))

progress("loading the weights (safe loader: tensors only)")
try:
    state = torch.load(job["weights"], map_location="cpu", weights_only=True)
except Exception as e:  # noqa: BLE001
    import re
    text = str(e)
    m = re.search(r"Unsupported (?:class|global:?|operand)\s*([\w.]+)", text)
    if m:
        why = "it asks to run %s when loaded" % m.group(1)
    elif "weights_only" in text or "Unpickl" in text:
        why = "it holds more than tensors"
    else:
        why = (text.splitlines() or [type(e).__name__])[0][:200]
    fail("unsafe-weights", "the weights file is not a plain state dict that loads without running code: %s; zoo loads only tensors" % why)
if isinstance(state, dict) and len(state) == 1:
    only = next(iter(state))
    if only in ("state_dict", "model_state_dict", "model") and isinstance(state[only], dict):
        state = state[only]
if not isinstance(state, dict):
    fail("state-dict", "the weights file holds a %s, not a state dict" % type(state).__name__)
want = model.state_dict()
missing = [k for k in want if k not in state]
unexpected = [k for k in state if k not in want]
if missing or unexpected:
    fail("state-dict", "the weights do not fit the architecture", missing=missing[:5], n_missing=len(missing),
         unexpected=unexpected[:5], n_unexpected=len(unexpected))
shape_errors = [
    "%s: weights %s, architecture %s" % (k, list(state[k].shape), list(want[k].shape))
    for k in want if hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(want[k].shape)
]
if shape_errors:
    fail("state-dict", "the weights' shapes do not fit the architecture", shapes=shape_errors[:5], n_shapes=len(shape_errors))
model.load_state_dict(state, strict=True)
model.eval()

inputs = []
for t in job["inputs"]:
    a = np.load(t["path"], allow_pickle=False)
    if a.dtype.kind in "biuf" and a.dtype != np.float32 and t.get("dtype", "float32") == "float32":
        a = a.astype(np.float32)
    inputs.append(torch.from_numpy(np.ascontiguousarray(a)))
output_names = [o["id"] for o in job["outputs"]]


def as_list(y):
    if isinstance(y, torch.Tensor):
        return [y]
    if isinstance(y, dict):
        return list(y.values())
    return list(y)


progress("running the model once on the test inputs")
with torch.no_grad():
    try:
        reference = as_list(model(*inputs))
    except MemoryError:
        fail("memory", "running the model ran out of memory")
    except BaseException as e:  # noqa: BLE001
        fail("run", "the model failed on its test inputs: %s: %s" % (type(e).__name__, e),
             trace=traceback.format_exc(limit=-3))
if len(reference) != len(output_names):
    fail("outputs", "the model returned %d output(s); the description has %d" % (len(reference), len(output_names)))


def max_diff(got):
    got = as_list(got)
    return max(float((g.float() - r.float()).abs().max()) for g, r in zip(got, reference)) if got else 0.0


if "torchscript" in job["to"]:
    path = os.path.join(out_dir, "weights_torchscript.pt")
    entry = {}
    errors = []
    for method in ("script", "trace"):
        progress("TorchScript: " + ("scripting" if method == "script" else "tracing on the test inputs"))
        try:
            with torch.no_grad():
                if method == "script":
                    sm = torch.jit.script(model)
                else:
                    sm = torch.jit.trace(model, tuple(inputs), check_trace=False, strict=False)
                sm.save(path)
                loaded = torch.jit.load(path, map_location="cpu")
                d = max_diff(loaded(*inputs))
            entry = {"path": path, "method": method, "max_abs_diff": d}
            break
        except MemoryError:
            fail("memory", "TorchScript conversion ran out of memory")
        except BaseException as e:  # noqa: BLE001
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            errors.append("%s: %s" % (method, first[:400]))
    if not entry:
        entry = {"error": "; ".join(errors)}
    result["formats"]["torchscript"] = entry
    save_result()

if "onnx" in job["to"]:
    path = os.path.join(out_dir, "weights.onnx")
    progress("ONNX: exporting with opset %d" % job["opset"])
    dynamic = {}
    input_names = [t["id"] for t in job["inputs"]]
    for t in job["inputs"] + job["outputs"]:
        if t.get("dynamic"):
            dynamic[t["id"]] = {i: "%s_%d" % (t["id"], i) for i in t["dynamic"]}
    entry = {}
    try:
        with torch.no_grad():
            torch.onnx.export(model, tuple(inputs), path, opset_version=job["opset"], input_names=input_names,
                              output_names=output_names, dynamic_axes=dynamic, do_constant_folding=True)
        entry = {"path": path, "method": "trace", "opset": job["opset"]}
    except MemoryError:
        fail("memory", "ONNX export ran out of memory")
    except BaseException as e:  # noqa: BLE001
        text = str(e).strip()
        first = (text.splitlines() or [type(e).__name__])[0]
        entry = {"error": first[:600]}
        if "is not supported" in text or "Unsupported" in text:
            entry["unsupported_operator"] = first[:300]
    result["formats"]["onnx"] = entry
    save_result()

progress("done")
save_result()
