#!/usr/bin/env bash
# Inference job overhead (bench/RESULTS.md, section "Inference jobs"):
# jobs/infer.BenchmarkJob — a whole job (POST the image, the worker's run:
# claim, model from the cache, tiled prediction with a heartbeat per tile,
# result stored; GET the result) against the same prediction in process,
# on the nuclei model for 512² (1 tile) and 2048² (25 tiles) images, on
# embedded storage. Prints the machine and a markdown table.
#
#   bench/jobs.sh               # BENCHTIME=5x by default
#   BENCHTIME=10x bench/jobs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHTIME=${BENCHTIME:-5x}
[ -f lib/libonnxruntime.so.1 ] || scripts/install-onnxruntime.sh
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: go test ./jobs/infer -run '^\$' -bench BenchmarkJob -benchtime $BENCHTIME"
out=$(go test ./jobs/infer -run '^$' -bench BenchmarkJob -benchtime "$BENCHTIME" 2>/dev/null | grep '^BenchmarkJob')
echo
echo "| image | in process | as a job | overhead |"
echo "|---|---|---|---|"
for size in 512 2048; do
  a=$(echo "$out" | awk -v s="in-process/$size-" 'index($1, s) {print $3}')
  j=$(echo "$out" | awk -v s="job/$size-" 'index($1, s) {print $3}')
  awk -v s="$size" -v a="$a" -v j="$j" 'BEGIN {printf "| %s² | %.0f ms | %.0f ms | %+.0f ms (%+.1f %%) |\n", s, a/1e6, j/1e6, (j-a)/1e6, 100*(j-a)/a}'
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
