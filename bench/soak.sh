#!/usr/bin/env bash
# Soak run (bench/RESULTS.md, section "Soak: legitimate load under attack").
# Starts zoo serve on loopback with the fixture packages seeded, then runs
# bench/soak twice for DURATION each: legitimate users alone (baseline),
# then the same users beside the attacks (slowloris connections, 64 MiB
# /v2 requests, 240 MiB /v2 answers, anonymous job flooding). Prints the
# machine, the command and one line per phase: legitimate requests,
# errors, error rate, p50 and p99 latency (ms), the server's peak RSS (MiB)
# and the attack requests sent. The legitimate users read anonymously and
# submit their jobs signed in (one token); the job flood is anonymous. Loopback only; every loop is bounded by
# DURATION; the server is stopped at the end.
#
#   bench/soak.sh                    # DURATION=45s
#   DURATION=20s ZOO_BIN=/path/to/zoo bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-45s}
SEED=${SEED:-../shared/fixtures/packages}
ZOO_BIN=${ZOO_BIN:-bin/zoo}
[ "$ZOO_BIN" != bin/zoo ] || go build -o bin/zoo ./cmd/zoo
go build -o bin/soak ./bench/soak
data=$(mktemp -d)
log=$data/serve.log
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT

# The server runs with 1024 file descriptors, as a small service might.
(ulimit -n 1024; exec "$ZOO_BIN" serve --data "$data" --addr 127.0.0.1:0 --workers 1 --seed "$SEED") >"$log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  grep -q 'listening on' "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.5
done
url=$(sed -n 's/.*listening on \(http:\/\/[^/ ]*\)\/.*/\1/p' "$log" | head -1)
[ -n "$url" ] || { cat "$log"; exit 1; }

token=$("$ZOO_BIN" admin token --data "$data" --user soak-user)
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM; go: $(go version | cut -d' ' -f3); server: $ZOO_BIN, ulimit -n 1024, --workers 1"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: bench/soak.sh (DURATION=$DURATION): bin/soak -server $url -duration $DURATION [-attack]"
echo "phase legit_requests errors error_rate p50_ms p99_ms peak_rss_mib attack_requests"
input=$SEED/unet2d-nuclei-broad-onnx/test_input.npy
bin/soak -server "$url" -pid "$pid" -input "$input" -token "$token" -duration "$DURATION"
bin/soak -server "$url" -pid "$pid" -input "$input" -token "$token" -duration "$DURATION" -attack
sleep 2
bin/soak -server "$url" -pid "$pid" -input "$input" -token "$token" -duration 10s | sed 's/^baseline/after/'
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
if kill -0 "$pid" 2>/dev/null; then echo "server: still running"; else echo "server: DIED"; tail -20 "$log"; fi
echo "refusals logged by limit:"
grep -o 'limit=[a-z_]*' "$log" | sort | uniq -c | sed 's/^/  /'
