#!/usr/bin/env bash
# Fine-tuning (bench/RESULTS.md, section "Fine-tuning"): the nuclei U-Net
# (bioimage.io's unet2d_nuclei_broad TorchScript weights) fine-tuned for
# segmentation on 256×256 patches of contrast-inverted rotations of its
# example image, with masks from its own predictions on the originals
# (made by the finetune package's test helper logic, here in Python), in
# the sandbox: median time per iteration, peak RSS of the trainer, and
# held-out IoU before and after.
#
#   bench/finetune.sh        # ITERATIONS=10 BATCH=1 PATCH=256 by default
set -euo pipefail
cd "$(dirname "$0")/.."
ITERATIONS=${ITERATIONS:-10}
BATCH=${BATCH:-1}
PATCH=${PATCH:-256}
FIXTURES=${ZOO_FIXTURES:-../shared/fixtures}
NUCLEI=$FIXTURES/bioimageio-examples/models/unet2d_nuclei_broad
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null || ! command -v bwrap >/dev/null; then
  echo "finetune.sh: skipped: needs python3-torch and bubblewrap" >&2
  exit 0
fi
make -s build >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/images" "$tmp/masks"
/usr/bin/python3 - "$NUCLEI" "$tmp" <<'PY'
import sys, numpy as np, torch
src, tmp = sys.argv[1], sys.argv[2]
x = np.load(src + "/test_input.npy").astype(np.float32)
m = torch.jit.load(src + "/weights.pt").eval()
for k in range(4):
    r = np.ascontiguousarray(np.rot90(x, k, axes=(2, 3)))
    z = (r - r.mean()) / (r.std() + 1e-6)
    with torch.no_grad():
        p = torch.sigmoid(m(torch.from_numpy(z))).numpy()
    np.save("%s/masks/r%d.npy" % (tmp, k), (p[0, 0] > 0.5).astype(np.uint8))
    np.save("%s/images/r%d.npy" % (tmp, k), x.max() - r)
PY
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
bin/zoo finetune --model "$NUCLEI/bioimageio.yaml" --images "$tmp/images" --masks "$tmp/masks" --out "$tmp/out" \
  --iterations "$ITERATIONS" --batch "$BATCH" --patch "$PATCH" --lr 1e-3 --seed 1 --json 2>"$tmp/err.log" > "$tmp/r.json" || { tail -5 "$tmp/err.log"; cat "$tmp/r.json"; }
end=$(date +%s.%N)
python3 - "$tmp/r.json" "$start" "$end" "$ITERATIONS" "$BATCH" "$PATCH" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print()
print("| task | patches | iterations | median s/iteration | trainer peak RSS (MiB) | held-out IoU before → after | whole command (s) |")
print("|---|---|---:|---:|---:|---|---:|")
print("| segment | %s × %s² | %s | %.2f | %d | %.3f → %.3f | %.0f |" % (sys.argv[5], sys.argv[6], sys.argv[4], r["iteration_seconds"], r["peak_rss_bytes"] >> 20, r["before"]["iou"], r["after"]["iou"], float(sys.argv[3]) - float(sys.argv[2])))
PY
