# zoo's fine-tuning program: trains a TorchScript model on a scientist's
# images. zoo runs it inside its sandbox (package sandbox) with the
# original weights and the preprocessed images read-only and one writable
# output folder; it imports only the standard library, torch and numpy.
#
# Input: the path of a job JSON (see finetune.go, type job). Output, in
# job["out"]: finetuned.pt (TorchScript), result.json (see type result),
# val_before_N.npy / val_after_N.npy (the model's outputs on each held-out
# image before and after, after the sigmoid where the description applies
# one); and job["checkpoint"] while training (a run that finds it resumes
# from it).
# Progress lines on stderr: "progress: ITERATION LOSS", and
# "progress: ITERATION checkpoint" once ckpt.pt holds that iteration.
import json
import os
import sys
import time


def progress(msg):
    print("progress: " + msg, file=sys.stderr, flush=True)


job = json.load(open(sys.argv[1]))
out = job["out"]
result = {}


def save_result():
    with open(os.path.join(out, "result.json.tmp"), "w") as f:
        json.dump(result, f)
    os.replace(os.path.join(out, "result.json.tmp"), os.path.join(out, "result.json"))


def fail(kind, message):
    result["error"] = {"kind": kind, "message": message}
    save_result()
    sys.exit(0)


import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(max(1, int(os.environ.get("ZOO_THREADS", "1"))))
torch.manual_seed(job["seed"])
rng = np.random.default_rng(job["seed"])
result["torch_version"] = torch.__version__.split("+")[0]

try:
    model = torch.jit.load(job["model"], map_location="cpu")
except Exception as e:  # noqa: BLE001
    fail("load", "the TorchScript weights cannot be loaded: %s" % (str(e).splitlines() or [type(e).__name__])[0])
params = [p for p in model.parameters() if p.requires_grad]
if not params:
    fail("frozen", "the TorchScript weights have no trainable parameters (they were frozen when exported)")


def load(paths):
    return [np.load(p, allow_pickle=False).astype(np.float32) for p in paths]


train_x = load([t["x"] for t in job["train"]])
train_y = load([t["y"] for t in job["train"]]) if job["task"] == "segment" else None
val_x = load([t["x"] for t in job["val"]])
patch, batch = job["patch"], job["batch"]
sigmoid = job["sigmoid"]


def crop(arrays, size):
    """The same random size×size window of each array (b, c, y, x)."""
    h, w = arrays[0].shape[-2:]
    ph, pw = min(size, h), min(size, w)
    y = int(rng.integers(0, h - ph + 1))
    x = int(rng.integers(0, w - pw + 1))
    return [a[..., y:y + ph, x:x + pw] for a in arrays]


def sample():
    xs, ys = [], []
    for _ in range(batch):
        i = int(rng.integers(len(train_x)))
        if train_y is not None:
            x, y = crop([train_x[i], train_y[i]], patch)
            ys.append(y[0])
        else:
            (x,) = crop([train_x[i]], patch)
        xs.append(x[0])
    xb = torch.from_numpy(np.stack(xs))
    yb = torch.from_numpy(np.stack(ys)) if ys else None
    return xb, yb


def blind_spot(xb):
    """Noise2Void: replace a few pixels by a random neighbour; the loss is
    taken at those pixels only, so the network cannot copy its input."""
    n, c, h, w = xb.shape
    mask = torch.rand(n, 1, h, w) < job["n2v_fraction"]
    mask = mask.expand(n, c, h, w)
    dy = torch.randint(-2, 3, (n, c, h, w))
    dx = torch.randint(-2, 3, (n, c, h, w))
    same = (dy == 0) & (dx == 0)
    dx[same] = 1
    yy = (torch.arange(h).view(1, 1, h, 1) + dy).clamp(0, h - 1)
    xx = (torch.arange(w).view(1, 1, 1, w) + dx).clamp(0, w - 1)
    flat = xb.reshape(n, c, h * w)
    neighbour = torch.gather(flat, 2, (yy * w + xx).reshape(n, c, h * w)).reshape(n, c, h, w)
    return torch.where(mask, neighbour, xb), mask


def loss_of(xb, yb):
    if job["task"] == "denoise":
        masked, mask = blind_spot(xb)
        pred = model(masked)
        if sigmoid:
            pred = torch.sigmoid(pred)
        return ((pred - xb) ** 2)[mask].mean()
    pred = model(xb)
    if sigmoid:
        pred = torch.sigmoid(pred)
    pred = pred.clamp(1e-6, 1 - 1e-6)
    bce = torch.nn.functional.binary_cross_entropy(pred, yb)
    inter = (pred * yb).sum()
    dice = 1 - (2 * inter + 1) / (pred.sum() + yb.sum() + 1)
    return bce + dice


def predict(m, x):
    with torch.no_grad():
        y = m(torch.from_numpy(x))
        if sigmoid:
            y = torch.sigmoid(y)
    return y.numpy()


# Before: the held-out images through the original weights (only once: a
# resumed run finds them).
if not os.path.exists(os.path.join(out, "val_before_0.npy")):
    model.eval()
    progress("0 running the original model on the held-out images")
    for i, x in enumerate(val_x):
        try:
            np.save(os.path.join(out, "val_before_%d.npy" % i), predict(model, x))
        except Exception as e:  # noqa: BLE001
            fail("run", "the model failed on held-out image %d: %s" % (i, (str(e).splitlines() or [type(e).__name__])[0]))

opt = torch.optim.Adam(params, lr=job["lr"])
start, losses = 0, []
ckpt = job["checkpoint"]
if os.path.exists(ckpt):
    state = torch.load(ckpt, map_location="cpu")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    start, losses = state["iteration"], state["losses"]
    # The random streams continue where the checkpoint left them, so a
    # resumed run draws the same patches and masks as one never stopped.
    if "np_rng" in state:
        rng.bit_generator.state = state["np_rng"]
        torch.set_rng_state(state["torch_rng"])
    else:  # a checkpoint of an older zoo
        rng = np.random.default_rng(job["seed"] + start)
        torch.manual_seed(job["seed"] + start)
    progress("%d resumed from the checkpoint" % start)

model.train()
last_ckpt = time.monotonic()
durations = []
for it in range(start, job["iterations"]):
    t0 = time.monotonic()
    xb, yb = sample()
    try:
        loss = loss_of(xb, yb)
    except Exception as e:  # noqa: BLE001
        fail("train", "a training step failed: %s" % (str(e).splitlines() or [type(e).__name__])[0])
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(float(loss))
    durations.append(time.monotonic() - t0)
    progress("%d %.6g" % (it + 1, float(loss)))
    if time.monotonic() - last_ckpt > job["checkpoint_seconds"] and it + 1 < job["iterations"]:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "iteration": it + 1, "losses": losses,
                    "np_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)
        last_ckpt = time.monotonic()
        progress("%d checkpoint" % (it + 1))

model.eval()
for i, x in enumerate(val_x):
    np.save(os.path.join(out, "val_after_%d.npy" % i), predict(model, x))
model.save(os.path.join(out, "finetuned.pt"))
result["losses"] = losses
result["iteration_seconds"] = sorted(durations)[len(durations) // 2] if durations else None
save_result()
progress("%d done" % job["iterations"])
