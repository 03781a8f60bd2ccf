#!/usr/bin/env bash
# Web pages: server time per page (pages.BenchmarkPages, in process on
# SQLite + disk) and preview rendering (preview.BenchmarkImage).
# BENCHTIME and COUNT tune go test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
go test -run '^$' -bench 'Pages|Image' -benchmem -benchtime "${BENCHTIME:-1s}" -count "${COUNT:-1}" ./pages ./preview \
	| awk '/^Benchmark/ { printf "| %s | %.2f ms/op | %.1f MB/op | %s allocs/op |\n", $1, $3/1e6, $5/1e6, $7 } !/^Benchmark/ { print }'
