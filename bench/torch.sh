#!/usr/bin/env bash
# TorchScript (libtorch, through torch/shim) against ONNX Runtime on the
# nuclei model (bench/RESULTS.md, section "TorchScript vs ONNX Runtime").
# Each engine runs in processes of its own (bench/enginerun), so that peak
# RSS is the engine's: library load (dlopen and start-up), model load,
# first forward, median of RUNS more forwards, peak RSS (VmHWM), on the
# model's preprocessed test input (1×1×512×512 float32), all CPUs as
# intra-op threads. ROUNDS processes per engine, interleaved; the table
# gives the median over rounds of each figure. Then the whole `zoo test
# --weights FORMAT` process on the nuclei description (wall time and peak
# RSS from /usr/bin/time -v).
#
#   bench/torch.sh                 # ROUNDS=5 RUNS=20 by default
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-20}
FIXTURES=${ZOO_FIXTURES:-../shared/fixtures}
NUCLEI=$FIXTURES/bioimageio-examples/models/unet2d_nuclei_broad
if [ ! -d "$NUCLEI" ]; then
  echo "torch.sh: $NUCLEI not found (set ZOO_FIXTURES)" >&2
  exit 2
fi
[ -f lib/libonnxruntime.so.1 ] || scripts/install-onnxruntime.sh
scripts/build-torch-shim.sh
if [ ! -f lib/libzootorch.so ]; then
  echo "torch.sh: skipped: lib/libzootorch.so was not built (apt-get install libtorch-dev, then make build)" >&2
  exit 0
fi
go build -o bin/zoo ./cmd/zoo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/enginerun" ./bench/enginerun
ZOO_BENCH_PREPROCESSED=$tmp/pre.npy go test -count=1 -run '^TestWriteBenchPreprocessed$' ./runner >/dev/null

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "libtorch: $(dpkg-query -W -f '${Version}' libtorch1.13 2>/dev/null || echo '?') (Debian libtorch-dev); ONNX Runtime: $(sed -n 's/^ORT_VERSION=//p' scripts/install-onnxruntime.sh); go: $(go version | cut -d' ' -f3)"
echo

# Warm the page cache for both libraries and models.
"$tmp/enginerun" -engine torchscript -model "$NUCLEI/weights.pt" -input "$tmp/pre.npy" -runs 1 -out "$tmp/ts.npy" >/dev/null
"$tmp/enginerun" -engine onnx -model "$NUCLEI/weights.onnx" -input "$tmp/pre.npy" -runs 1 >/dev/null
for ((r = 0; r < ROUNDS; r++)); do
  "$tmp/enginerun" -engine torchscript -model "$NUCLEI/weights.pt" -input "$tmp/pre.npy" -runs "$RUNS" >>"$tmp/runs.txt"
  "$tmp/enginerun" -engine torchscript-plain -model "$NUCLEI/weights.pt" -input "$tmp/pre.npy" -runs "$RUNS" -ref "$tmp/ts.npy" >>"$tmp/runs.txt"
  "$tmp/enginerun" -engine onnx -model "$NUCLEI/weights.onnx" -input "$tmp/pre.npy" -runs "$RUNS" -ref "$tmp/ts.npy" >>"$tmp/runs.txt"
done

# The whole zoo test process per format.
for f in torchscript onnx; do
  /usr/bin/time -v -o "$tmp/time-$f.txt" bin/zoo test --weights "$f" "$NUCLEI/bioimageio.yaml" >/dev/null 2>&1
done

python3 - "$tmp/runs.txt" "$tmp/time-torchscript.txt" "$tmp/time-onnx.txt" "$ROUNDS" "$RUNS" <<'PY'
import statistics, sys
rows, diff = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(f[0], []).append([float(x) for x in f[1:8]])
    if f[8] != "-":
        diff[f[0]] = max(diff.get(f[0], 0.0), float(f[8]))
def wall(path):
    t = open(path).read()
    w = [l.split(": ", 1)[1] for l in t.splitlines() if "Elapsed (wall clock)" in l][0]
    s = 0.0
    for part in w.split(":"):
        s = s * 60 + float(part)
    rss = [int(l.split(": ")[1]) for l in t.splitlines() if "Maximum resident set size" in l][0] // 1024
    return s, rss
names = {"torchscript": "TorchScript (libtorch, weights.pt, optimised for inference: zoo's default)",
         "torchscript-plain": "TorchScript as loaded (torch.Options.Plain)",
         "onnx": "ONNX Runtime (weights.onnx)"}
rounds, runs = sys.argv[4], sys.argv[5]
print(f"| engine (nuclei, 1×1×512×512, all CPUs) | library load | model load | first forward | median forward ({runs} runs; min–max) | peak RSS | `zoo test --weights F` process: wall, peak RSS |")
print("|---|---|---|---|---|---|---|")
for e, path in (("torchscript", sys.argv[2]), ("torchscript-plain", None), ("onnx", sys.argv[3])):
    m = [statistics.median(col) for col in zip(*rows[e])]
    proc = "—"
    if path:
        w, rss = wall(path)
        proc = f"{w:.2f} s, {rss} MiB"
    print(f"| {names[e]} | {m[0]:.0f} ms | {m[1]:.0f} ms | {m[2]:.0f} ms | {m[3]:.0f} ms ({m[4]:.0f}–{m[5]:.0f}) | {m[6]:.0f} MiB | {proc} |")
ts = [statistics.median(c) for c in zip(*rows["torchscript"])]
pl = [statistics.median(c) for c in zip(*rows["torchscript-plain"])]
on = [statistics.median(c) for c in zip(*rows["onnx"])]
print()
print(f"Medians over {rounds} processes per engine. TorchScript/ONNX: median forward ×{ts[3]/on[3]:.2f}, first forward ×{ts[2]/on[2]:.2f}, "
      f"library + model load ×{(ts[0]+ts[1])/(on[0]+on[1]):.1f}, peak RSS ×{ts[6]/on[6]:.1f}. "
      f"Optimised/plain TorchScript median forward ×{ts[3]/pl[3]:.2f}. "
      f"Raw outputs (before the sigmoid) agree with the optimised TorchScript's to max abs {diff.get('onnx', float('nan')):.2g} (ONNX), "
      f"{diff.get('torchscript-plain', float('nan')):.2g} (plain TorchScript).")
PY
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
