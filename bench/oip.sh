#!/usr/bin/env bash
# Open Inference Protocol v2 benchmark (bench/RESULTS.md, section "Inference
# over the Open Inference Protocol (/v2)"). Runs oip.BenchmarkInferOIP: the
# nuclei model (512×512 test input, server-side processing) at concurrency
# 1, 2 and 4 with binary and JSON tensors over HTTP, against the in-process
# runner call (Predictor.Predict on the same cached model and input),
# interleaved; prints the machine, the load and a markdown table.
#
#   bench/oip.sh                 # BENCHTIME=10x by default
#   BENCHTIME=3x bench/oip.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BENCHTIME=${BENCHTIME:-10x}
[ -f lib/libonnxruntime.so.1 ] || scripts/install-onnxruntime.sh
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM; go: $(go version | cut -d' ' -f3); ONNX Runtime: $(sed -n 's/^ORT_VERSION=//p' scripts/install-onnxruntime.sh)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
go test -run '^$' -bench '^BenchmarkInferOIP$' -benchtime "$BENCHTIME" ./oip >"$tmp"
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: go test -run '^\$' -bench '^BenchmarkInferOIP\$' -benchtime $BENCHTIME ./oip"
echo
echo "| concurrency | mode | p50 ms | p95 ms | req/s | overhead vs in-process: p50s; paired median |"
echo "|---|---|---|---|---|---|"
awk '/^BenchmarkInferOIP\/c=/ {
  c = $1; sub(/.*c=/, "", c); sub(/-.*/, "", c)
  for (i = 1; i <= NF; i++) { m[$(i+1)] = $i }
  split("inproc binary json", modes, " ")
  for (k = 1; k <= 3; k++) {
    md = modes[k]
    ov = (md == "inproc") ? "—" : sprintf("%+.1f %%; %+.1f %%", m[md "-%overhead-p50"], m[md "-%overhead-paired"])
    label = (md == "inproc") ? "in-process Predict" : ((md == "binary") ? "/v2 binary tensors" : "/v2 JSON tensors")
    printf "| %s | %s | %.1f | %.1f | %.2f | %s |\n", c, label, m[md "-p50-ms"], m[md "-p95-ms"], m[md "-req/s"], ov
  }
}' "$tmp"
