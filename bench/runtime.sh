#!/usr/bin/env bash
# Runtime benchmarks of zoo test / zoo predict (bench/RESULTS.md, section
# "Runtime (zoo test / zoo predict)"). Prints the machine and a markdown
# table:
#
#  1. in-process overhead: runner.BenchmarkPredictOverhead — the whole
#     predict path of one file with the nuclei model (read .npy, map axes,
#     statistics, preprocess, run, postprocess, write .npy) against
#     Session.Run alone on the same preprocessed tensor, interleaved — and
#     BenchmarkPredictOverheadTiled, the same for a 2048×2048 TIFF in 25
#     tiles against 25 Session.Run calls;
#  2. the zoo predict process on the same file (hyperfine, when installed:
#     apt-get install -y hyperfine), next to `zoo --help` (process start);
#  3. a tiled 4096×4096 float32 TIFF with the nuclei model (fixed 512×512,
#     halo 32): wall time, Mpixel/s and peak RSS of the zoo predict process
#     (/usr/bin/time -v; apt-get install -y time);
#  4. process.BenchmarkOps (each processing op vs copy() on 64 MiB), when
#     the process package has it.
#
#   bench/runtime.sh                 # BENCHTIME=40x RUNS=20 by default
#   BENCHTIME=10x RUNS=3 bench/runtime.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BENCHTIME=${BENCHTIME:-40x}
RUNS=${RUNS:-20}
FIXTURES=${ZOO_FIXTURES:-../shared/fixtures}
NUCLEI=$FIXTURES/packages/unet2d-nuclei-broad-onnx
if [ ! -d "$NUCLEI" ]; then
  echo "runtime.sh: $NUCLEI not found (set ZOO_FIXTURES)" >&2
  exit 2
fi
[ -f lib/libonnxruntime.so.1 ] || scripts/install-onnxruntime.sh
go build -o bin/zoo ./cmd/zoo
ZOO=$PWD/bin/zoo

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "go: $(go version | cut -d' ' -f3); ONNX Runtime: $(sed -n 's/^ORT_VERSION=//p' scripts/install-onnxruntime.sh) (scripts/install-onnxruntime.sh)"
echo

# 1. In-process overhead.
go test -run '^$' -bench '^BenchmarkPredictOverhead$' -benchtime "$BENCHTIME" ./runner >"$tmp/overhead.txt"
go test -run '^$' -bench '^BenchmarkPredictOverheadTiled$' -benchtime 5x ./runner >"$tmp/overhead_tiled.txt"
read -r t_tiles t_zoo t_ort t_over t_over_min < <(awk '/BenchmarkPredictOverheadTiled/ {
  for (i = 1; i <= NF; i++) { m[$(i+1)] = $i }
  printf "%d %.0f %.0f %.1f %.1f\n", m["tiles"], m["ms/predict"], m["ms/ort-runs"], m["%overhead"], m["%overhead-min"] }' "$tmp/overhead_tiled.txt")
read -r zoo_ms ort_ms overhead zoo_min ort_min overhead_min < <(awk '/BenchmarkPredictOverhead/ {
  for (i = 1; i <= NF; i++) { m[$(i+1)] = $i }
  printf "%.1f %.1f %.1f %.1f %.1f %.1f\n", m["ms/predict"], m["ms/ort-run"], m["%overhead"], m["ms/predict-min"], m["ms/ort-run-min"], m["%overhead-min"] }' "$tmp/overhead.txt")

# 2. The CLI process against a bare ONNX Runtime process (bench/ortrun:
# load the model, read the preprocessed input, run once).
go build -o "$tmp/ortrun" ./bench/ortrun
ZOO_BENCH_PREPROCESSED=$tmp/pre.npy go test -count=1 -run '^TestWriteBenchPreprocessed$' ./runner >/dev/null
cli_cmd="$ZOO predict --model $NUCLEI --input $NUCLEI/test_input.npy --output $tmp/out"
ort_cmd="$tmp/ortrun $NUCLEI/weights.onnx $tmp/pre.npy"
if command -v hyperfine >/dev/null; then
  hyperfine -N --runs "$RUNS" --warmup 2 --export-json "$tmp/cli.json" "$cli_cmd" "$ort_cmd" "$ZOO --help" >/dev/null 2>&1
  cat >"$tmp/stats.py" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
ms = lambda k, i: r[i][k] * 1e3
cpu = lambda i: (r[i]["user"] + r[i]["system"]) * 1e3
print(f"{ms('median', 0):.0f} {ms('stddev', 0):.0f} {ms('median', 1):.0f} {ms('stddev', 1):.0f} {ms('median', 2):.1f} {ms('min', 0):.0f} {ms('min', 1):.0f} {cpu(0):.0f} {cpu(1):.0f}")
PY
  read -r cli_ms cli_sd ortp_ms ortp_sd help_ms cli_min ortp_min cli_cpu ortp_cpu < <(python3 "$tmp/stats.py" "$tmp/cli.json")
  cli_over=$(python3 -c "print(f'{($cli_ms/$ortp_ms-1)*100:.1f}')")
  cli_over_min=$(python3 -c "print(f'{($cli_min/$ortp_min-1)*100:.1f}')")
else
  echo "runtime.sh: hyperfine not installed (apt-get install -y hyperfine); skipping the process comparison" >&2
  cli_ms="?"; cli_sd="?"; ortp_ms="?"; ortp_sd="?"; help_ms="?"; cli_min="?"; ortp_min="?"; cli_over="?"; cli_over_min="?"; cli_cpu="?"; ortp_cpu="?"
fi

# 3. Tiled 4096×4096.
ZOO_BENCH_IMAGE=$tmp/big.tif go test -count=1 -run '^TestWriteBenchImage$' ./runner >/dev/null
mkdir -p "$tmp/big"
/usr/bin/time -v -o "$tmp/time.txt" "$ZOO" predict --model "$NUCLEI" --input "$tmp/big.tif" --output "$tmp/big" 2>"$tmp/predict.txt"
tiles=$(sed -n 's/.*(\([0-9]*\) tile(s).*/\1/p' "$tmp/predict.txt")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time.txt")
wall_s=$(python3 -c 'import sys
p = sys.argv[1].split(":"); s = 0
for x in p: s = s*60 + float(x)
print(f"{s:.1f}")' "$wall")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
cpu_s=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.1f", s}' "$tmp/time.txt")
mpx=$(python3 -c "print(f'{4096*4096/1e6/$wall_s:.2f}')")
rss_mib=$((rss_kb / 1024))
# The same with the declared halo only (--halo 32): fewer tiles.
/usr/bin/time -v -o "$tmp/time32.txt" "$ZOO" predict --model "$NUCLEI" --input "$tmp/big.tif" --output "$tmp/big" --halo 32 2>"$tmp/predict32.txt"
tiles32=$(sed -n 's/.*(\([0-9]*\) tile(s).*/\1/p' "$tmp/predict32.txt")
wall32_s=$(python3 -c 'import sys
p = sys.argv[1].split(":"); s = 0
for x in p: s = s*60 + float(x)
print(f"{s:.1f}")' "$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time32.txt")")
mpx32=$(python3 -c "print(f'{4096*4096/1e6/$wall32_s:.2f}')")
rss32_mib=$(( $(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time32.txt") / 1024 ))
cpu32_s=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.1f", s}' "$tmp/time32.txt")

echo "| benchmark | result | target |"
echo "|---|---|---|"
echo "| zoo predict path in-process, nuclei 512×512 .npy (read, preprocess, run, postprocess, write): median; fastest | ${zoo_ms} ms; ${zoo_min} ms | |"
echo "| Session.Run alone, same session, same preprocessed tensor: median; fastest | ${ort_ms} ms; ${ort_min} ms | |"
echo "| overhead of the predict path over Session.Run: medians; fastest runs | ${overhead} %; ${overhead_min} % | ≤ 5 % |"
echo "| the same for a 2048×2048 float32 TIFF (${t_tiles} tiles) against ${t_tiles} Session.Run calls on the same blocks: medians | ${t_zoo} ms vs ${t_ort} ms | |"
echo "| overhead of the tiled predict path: medians; fastest runs | ${t_over} %; ${t_over_min} % | ≤ 5 % |"
echo "| \`zoo predict\` process, same file (hyperfine, $RUNS runs): median ± σ; fastest | ${cli_ms} ± ${cli_sd} ms; ${cli_min} ms | |"
echo "| bare ONNX Runtime process (bench/ortrun: load model, read preprocessed .npy, run): median ± σ; fastest | ${ortp_ms} ± ${ortp_sd} ms; ${ortp_min} ms | |"
echo "| overhead of the zoo predict process over the bare one: medians; fastest runs | ${cli_over} %; ${cli_over_min} % | ≤ 5 % |"
echo "| CPU time (user+sys, mean) of the zoo predict process; of the bare one | ${cli_cpu} ms; ${ortp_cpu} ms | |"
echo "| \`zoo --help\` process (start-up alone), median | ${help_ms} ms | |"
echo "| \`zoo predict\` tiled 4096×4096 float32 TIFF, nuclei (512², halo 32 → context 64), ${tiles} tiles: wall; CPU (user+sys) | ${wall_s} s = ${mpx} Mpixel/s; ${cpu_s} s | |"
echo "| peak RSS of that process (/usr/bin/time -v) | ${rss_mib} MiB | < 1024 MiB |"
echo "| the same with \`--halo 32\` (declared halo only), ${tiles32} tiles: wall; CPU; peak RSS | ${wall32_s} s = ${mpx32} Mpixel/s; ${cpu32_s} s; ${rss32_mib} MiB | |"

# 4. Processing ops vs memcpy (process engineer's benchmark), if present.
if grep -q 'func BenchmarkOps' process/*_test.go 2>/dev/null; then
  go test -run '^$' -bench '^BenchmarkOps$' -benchtime 5x ./process 2>/dev/null |
    awk '/^BenchmarkOps\// { name = $1; sub(/^BenchmarkOps\//, "", name); sub(/-[0-9]+$/, "", name)
      for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s") mbs = $i
      printf "| process op %s, 1×1×4096×4096 float32 | %s MB/s | |\n", name, mbs }'
fi
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
