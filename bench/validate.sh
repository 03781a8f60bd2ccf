#!/usr/bin/env bash
# Whole-process cost of `zoo validate --no-files --json` over the real corpus
# (all descriptions of ../shared/fixtures/rdf-corpus/rdfs in one process), and
# of the process start-up alone. Uses hyperfine when installed
# (apt-get install -y hyperfine), else repeated runs timed with `date`.
# Prints a table: descriptions, total wall time, per description, start-up.
#
#   bench/validate.sh            # RUNS=20 WARMUP=3 by default
#   RUNS=50 bench/validate.sh
#   NO_HYPERFINE=1 bench/validate.sh   # time with `date` even if hyperfine is installed
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
FIXTURES=${ZOO_FIXTURES:-../shared/fixtures}
CORPUS=$FIXTURES/rdf-corpus/rdfs
if [ ! -d "$CORPUS" ]; then
  echo "validate.sh: corpus not found at $CORPUS (set ZOO_FIXTURES)" >&2
  exit 2
fi

go build -o bin/zoo ./cmd/zoo
ZOO=bin/zoo

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

files=("$CORPUS"/*)
n=${#files[@]}

# Sanity: one JSON report per description; count verdicts. Exit status 1
# is expected (the corpus holds invalid descriptions).
"$ZOO" validate --no-files --json "${files[@]}" >"$tmp/out.jsonl" || true
lines=$(wc -l <"$tmp/out.jsonl")
valid=$(grep -c '"status":"valid-format"' "$tmp/out.jsonl" || true)
failed=$(grep -c '"status":"failed"' "$tmp/out.jsonl" || true)
if [ "$lines" -ne "$n" ]; then
  echo "validate.sh: $lines reports for $n descriptions" >&2
  exit 1
fi

# A description that is as small as a description can be, for start-up.
printf 'type: generic\nformat_version: 0.3.0\nname: start-up probe\n' >"$tmp/tiny.yaml"

corpus_cmd="$ZOO validate --no-files --json ${files[*]}"
startup_cmd="$ZOO validate --no-files --json $tmp/tiny.yaml"
help_cmd="$ZOO --help"

# mean wall time in seconds of each command, one per line
if [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null 2>&1; then
  tool="hyperfine $(hyperfine --version | awk '{print $2}') (--warmup $WARMUP --runs $RUNS -N -i)"
  hyperfine -N -i --warmup "$WARMUP" --runs "$RUNS" --style none \
    --export-csv "$tmp/times.csv" "$corpus_cmd" "$startup_cmd" "$help_cmd" >"$tmp/hyperfine.log" 2>&1
  # command,mean,stddev,median,user,system,min,max
  mapfile -t means < <(tail -n +2 "$tmp/times.csv" | awk -F, '{print $(NF-6)}')
  mapfile -t sds < <(tail -n +2 "$tmp/times.csv" | awk -F, '{print $(NF-5)}')
  mapfile -t mins < <(tail -n +2 "$tmp/times.csv" | awk -F, '{print $(NF-1)}')
  mapfile -t cpus < <(tail -n +2 "$tmp/times.csv" | awk -F, '{printf "%.6f\n", $(NF-3)+$(NF-2)}')
else
  tool="date +%s%N, mean of $RUNS runs after $WARMUP warm-up runs (hyperfine not installed or NO_HYPERFINE set)"
  means=() sds=() mins=() cpus=()
  for cmd in "$corpus_cmd" "$startup_cmd" "$help_cmd"; do
    for ((i = 0; i < WARMUP; i++)); do $cmd >/dev/null 2>&1 || true; done
    total=0 sq=0 best=0
    cpu0=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat) # children's ticks of this shell
    for ((i = 0; i < RUNS; i++)); do
      t0=$(date +%s%N)
      $cmd >/dev/null 2>&1 || true
      t1=$(date +%s%N)
      d=$((t1 - t0))
      total=$((total + d))
      sq=$((sq + d / 1000 * (d / 1000)))
      if [ "$best" -eq 0 ] || [ "$d" -lt "$best" ]; then best=$d; fi
    done
    cpu1=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
    mean_ns=$((total / RUNS))
    means+=("$(awk -v x="$mean_ns" 'BEGIN{printf "%.6f", x/1e9}')")
    sds+=("$(awk -v s="$sq" -v m="$mean_ns" -v r="$RUNS" 'BEGIN{v=s/r-(m/1000)^2; if(v<0)v=0; printf "%.6f", sqrt(v)/1e6}')")
    mins+=("$(awk -v x="$best" 'BEGIN{printf "%.6f", x/1e9}')")
    cpus+=("$(awk -v a="$cpu0" -v b="$cpu1" -v r="$RUNS" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.6f", (b-a)/hz/r}')")
  done
fi

corpus=${means[0]} startup=${means[1]} help=${means[2]}
perdesc() { awk -v c="$1" -v s="$2" -v n="$n" 'BEGIN{printf "%.3f", (c-s)/n*1000}'; }
per=$(perdesc "$corpus" "$startup")
per_best=$(perdesc "${mins[0]}" "${mins[1]}")
per_cpu=$(perdesc "${cpus[0]}" "${cpus[1]}")
# the reference validator: ~1.1 s import, then ~8.6 ms per description
ref_total=$(awk -v n="$n" 'BEGIN{printf "%.2f", 1.1 + n*0.0086}')
ratio() { awk -v p="$1" 'BEGIN{ if (p > 0) printf "%.0f", 8.6/p; else print "inf" }'; }
speedup=$(ratio "$per") speedup_best=$(ratio "$per_best") speedup_cpu=$(ratio "$per_cpu")
speedup_total=$(awk -v c="$corpus" -v r="$ref_total" 'BEGIN{printf "%.0f", r/c}')

ms() { awk -v x="$1" 'BEGIN{printf "%.1f ms", x*1000}'; }

echo "zoo validate --no-files --json over the corpus ($tool)"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/{printf "%.1f GB", $2/1048576}' /proc/meminfo) RAM, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "verdicts: $valid valid-format, $failed failed"
echo
echo "| | descriptions | total wall time | per description | process start-up |"
echo "|---|---:|---:|---:|---:|"
echo "| mean ± σ | $n | $(ms "$corpus") ± $(ms "${sds[0]}") | $per ms | $(ms "$startup") ± $(ms "${sds[1]}") |"
echo "| best run | $n | $(ms "${mins[0]}") | $per_best ms | $(ms "${mins[1]}") |"
echo "| CPU (user+sys) | $n | $(ms "${cpus[0]}") | $per_cpu ms | $(ms "${cpus[1]}") |"
echo
echo "per description = (total − start-up) / $n; start-up = one process validating a 3-line description"
echo "(\`zoo --help\` alone: $(ms "$help"))."
echo "reference validator: ~1.1 s import + ~8.6 ms per description ≈ ${ref_total} s for $n descriptions."
echo "zoo per description: ${speedup}× faster (mean wall), ${speedup_best}× (best run), ${speedup_cpu}× (CPU time); whole corpus: ${speedup_total}× faster (mean wall). Target: ≥ 20× per description."
