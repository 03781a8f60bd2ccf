#!/usr/bin/env bash
# Repository service benchmarks (bench/RESULTS.md, section "Repository
# service (upload, download, metadata)") on both backend sets: SQLite +
# disk, and PostgreSQL + S3 (VersityGW). Prints the machine and a markdown
# table.
#
# For each backend set, bin/zoo serve --workers 0 runs on loopback, seeded
# with the upsample-onnx example (uploaded, tested through ONNX Runtime and
# accepted at start: a published model for the anonymous metadata reads),
# and then:
#
#  1. upload of a package of SIZE_MIB (default 1024) MiB — upsample-onnx
#     with a random attachment, made by zoo package — streamed by
#     curl -T to POST /api/v1/models until the 201 (the server spools the
#     body, validates it hashing every file, stores the files and the
#     package zip as blobs with fsync, writes the catalog): MB/s
#     (10^6 bytes per second of the zip's size);
#  2. download of that version's package zip (GET /packages/ID/N) and of
#     its big file (GET /files/ID/N/big.bin) by curl to /dev/null: MB/s;
#  3. for 1 to 3: the server's RSS growth: the peak RSS during the request
#     (VmHWM of /proc/PID/status, reset before it through
#     /proc/PID/clear_refs) minus the RSS before it (VmRSS) — it streams,
#     so this must stay below 64 MiB;
#  4. GET /api/v1/models/{id} and GET /api/v1/models/{id}/versions/1
#     (anonymous, the published example) under wrk (Debian: apt-get install
#     -y wrk) with CONNS connections (default "1 16 64"; 2 threads, 1 for a
#     single connection) for DURATION each (default 10s), loopback only:
#     requests/s and latency p50/p99. wrk shares the machine's CPUs with
#     the server (and, for the second set, PostgreSQL).
#
# PostgreSQL and S3 come from $ZOO_TEST_POSTGRES and $ZOO_TEST_S3 (with
# AWS_*), or are started here by scripts/pg-server.sh and
# scripts/s3-server.sh and stopped afterwards. The benchmark uses its own
# database (dropped at the end) and its own prefix in the bucket (emptied
# at the end with zoo gc against an empty catalog).
#
#   bench/repo.sh
#   SIZE_MIB=256 CONNS="16" DURATION=5s BACKENDS=sqlite bench/repo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

SIZE_MIB=${SIZE_MIB:-1024}
CONNS=${CONNS:-"1 16 64"}
DURATION=${DURATION:-10s}
BACKENDS=${BACKENDS:-"sqlite postgres-s3"}
FIXTURES=${ZOO_FIXTURES:-../shared/fixtures}
EXAMPLE=$FIXTURES/packages/upsample-onnx
if [ ! -d "$EXAMPLE" ]; then
  echo "repo.sh: $EXAMPLE not found (set ZOO_FIXTURES)" >&2
  exit 2
fi
for tool in curl python3; do
  command -v $tool >/dev/null || { echo "repo.sh: $tool is needed" >&2; exit 2; }
done
[ -f lib/libonnxruntime.so.1 ] || scripts/install-onnxruntime.sh
go build -o bin/zoo ./cmd/zoo
ZOO=$PWD/bin/zoo

tmp=$(mktemp -d)
PID=
cleanups=()
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[i]}" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr); $(go version | cut -d' ' -f3)"
echo "load average at the start: $(load)"

# The big package: the example plus SIZE_MIB MiB of random bytes as an
# attachment, packaged by zoo package (files are stored, not compressed).
mkdir -p "$tmp/pkg" "$tmp/seed"
cp "$EXAMPLE"/* "$tmp/pkg/"
chmod -R u+w "$tmp/pkg"
head -c "${SIZE_MIB}M" /dev/urandom >"$tmp/pkg/big.bin"
printf 'attachments:\n  - source: big.bin\n    sha256: %s\n' "$(sha256sum "$tmp/pkg/big.bin" | cut -d' ' -f1)" >>"$tmp/pkg/bioimageio.yaml"
"$ZOO" package "$tmp/pkg" -o "$tmp/pkg.zip" >/dev/null
rm -rf "$tmp/pkg"
ZIP_BYTES=$(stat -c %s "$tmp/pkg.zip")
cp -r "$EXAMPLE" "$tmp/seed/upsample-onnx"
echo "package: $(awk -v b="$ZIP_BYTES" 'BEGIN{printf "%.1f MiB", b/1048576}') zip (upsample-onnx + ${SIZE_MIB} MiB attachment)"

kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
mb_s() { awk -v b="$1" -v t="$2" 'BEGIN{printf "%.0f", b/t/1e6}'; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }

# start_server FLAGS...: zoo serve on a free loopback port; sets PID, URL, ID.
start_server() {
  local log=$tmp/serve.log
  "$ZOO" serve --addr 127.0.0.1:0 --workers 0 --seed "$tmp/seed" "$@" >"$log" 2>&1 &
  PID=$!
  for _ in $(seq 1200); do
    grep -q 'listening on' "$log" && break
    kill -0 "$PID" 2>/dev/null || { echo "repo.sh: zoo serve exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  URL=$(sed -n 's#.*listening on \(http://[^/ ]*\)/.*#\1#p' "$log")
  ID=$(sed -n 's#.*--seed: published \([a-z-]*\)/1 .*#\1#p' "$log" | head -1)
  if [ -z "$URL" ] || [ -z "$ID" ]; then
    echo "repo.sh: zoo serve did not start with the published example:" >&2
    cat "$log" >&2
    exit 1
  fi
}

stop_server() {
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=
}

# measure NAME CURL-ARGS...: runs curl once with the server's peak RSS
# reset; prints "MB/s seconds growth-MiB".
measure() {
  local name=$1
  shift
  echo 5 >"/proc/$PID/clear_refs" # reset VmHWM to the current RSS
  local before out code secs bytes peak
  before=$(kb "$PID" VmRSS)
  out=$(curl -sS -H 'Expect:' -w '%{http_code} %{time_total}' "$@")
  peak=$(kb "$PID" VmHWM)
  read -r code secs <<<"$out"
  case $code in 2??) ;; *)
    echo "repo.sh: $name answered $code" >&2
    exit 1
    ;;
  esac
  echo "$(mb_s "$ZIP_BYTES" "$secs") $(awk -v t="$secs" 'BEGIN{printf "%.2f", t}') $(mib $((peak - before))) $(mib "$before")"
}

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 |"); }

# bench LABEL FLAGS...: the whole run on one backend set.
bench() {
  local label=$1
  shift
  local catalog=("$@")
  [ "$1" = --db ] && catalog=(--db "$2") # zoo admin takes no --blobs
  local tok
  tok=$("$ZOO" admin token "${catalog[@]}" --user bench --role contributor 2>/dev/null)
  start_server "$@"
  local la=$(load)

  local r up_id up_n mbs secs growth base
  r=$(measure upload -o "$tmp/up.json" -X POST -T "$tmp/pkg.zip" -H "Authorization: Bearer $tok" -H 'Content-Type: application/zip' "$URL/api/v1/models")
  read -r mbs secs growth base <<<"$r"
  read -r up_id up_n < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["id"], d["version"])' "$tmp/up.json")
  row "$label" "upload of the ${SIZE_MIB} MiB package (POST /api/v1/models → 201)" "**$mbs MB/s** (${secs} s)" "$growth MiB (RSS before: $base MiB)"
  r=$(measure package -o /dev/null -H "Authorization: Bearer $tok" "$URL/packages/$up_id/$up_n")
  read -r mbs secs growth base <<<"$r"
  row "$label" "download of its package zip (GET /packages/ID/N)" "**$mbs MB/s** (${secs} s)" "$growth MiB"
  r=$(measure file -o /dev/null -H "Authorization: Bearer $tok" "$URL/files/$up_id/$up_n/big.bin")
  read -r mbs secs growth base <<<"$r"
  row "$label" "download of its ${SIZE_MIB} MiB file (GET /files/ID/N/big.bin)" "**$mbs MB/s** (${secs} s)" "$growth MiB"

  if command -v wrk >/dev/null; then
    local path c t out rps p50 p99 errs size
    for path in "/api/v1/models/$ID" "/api/v1/models/$ID/versions/1"; do
      size=$(curl -sS -o /dev/null -w '%{size_download}' "$URL$path")
      for c in $CONNS; do
        t=2
        [ "$c" -lt 2 ] && t=1
        out=$(wrk -t"$t" -c"$c" -d"$DURATION" --latency "$URL$path")
        rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
        p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
        errs=$(awk '/Non-2xx|Socket errors/' <<<"$out")
        row "$label" "GET ${path/$ID/\{id\}} ($size B), $c connection(s), $DURATION" "**$rps req/s** (p50 $p50, p99 $p99)${errs:+ — $errs}" ""
      done
    done
  else
    echo "repo.sh: wrk not installed (apt-get install -y wrk); skipping the metadata requests" >&2
  fi
  stop_server
  row "$label" "load average before / after" "$la / $(load)" ""
}

for b in $BACKENDS; do
  case $b in
  sqlite)
    bench "SQLite + disk" --data "$tmp/data"
    rm -rf "$tmp/data"
    ;;
  postgres-s3)
    if [ -z "${ZOO_TEST_POSTGRES:-}" ]; then
      scripts/pg-server.sh status || cleanups+=("scripts/pg-server.sh stop")
      eval "$(scripts/pg-server.sh start)"
    fi
    if [ -z "${ZOO_TEST_S3:-}" ]; then
      scripts/s3-server.sh env >/dev/null 2>&1 || cleanups+=("scripts/s3-server.sh stop")
      eval "$(scripts/s3-server.sh start)"
    fi
    db=zoo_bench_$$
    psql "$ZOO_TEST_POSTGRES" -qc "CREATE DATABASE $db" >/dev/null
    cleanups+=("psql '$ZOO_TEST_POSTGRES' -qc 'DROP DATABASE IF EXISTS $db WITH (FORCE)'")
    dsn=$(sed "s#/[^/?]*?#/$db?#" <<<"$ZOO_TEST_POSTGRES")
    s3=$(sed "s#^s3://\([^/?]*\)[^?]*#s3://\1/bench-$$#" <<<"$ZOO_TEST_S3")
    # Empty the prefix at the end: every blob is unreferenced in an empty catalog.
    cleanups+=("'$ZOO' gc --db '$tmp/empty.db' --blobs '$s3'")
    bench "PostgreSQL + S3" --db "$dsn" --blobs "$s3"
    ;;
  *)
    echo "repo.sh: unknown backend set $b (sqlite, postgres-s3)" >&2
    exit 2
    ;;
  esac
done

echo
echo "| backend | measurement | result | server RSS growth (peak − before) |"
echo "|---|---|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "load average at the end: $(load)"
