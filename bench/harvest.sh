#!/usr/bin/env bash
# Harvesting endpoints at 10,000 published versions (in-memory sources, so
# the numbers are the handlers' own cost, not the catalog's): OAI-PMH pages
# (oai) and the collection files (collection). Prints a table.
# BENCHTIME tunes go test (default 20x).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-36s %12s %12s %10s\n' benchmark ms/op MB/op allocs/op
go test -run '^$' -bench . -benchtime "${BENCHTIME:-20x}" -benchmem ./oai ./collection |
	awk '/^Benchmark/ { ns=$3; for (i=4;i<=NF;i++) { if ($(i+1)=="B/op") b=$i; if ($(i+1)=="allocs/op") a=$i }
		printf "%-36s %12.1f %12.1f %10d\n", $1, ns/1e6, b/1e6, a }'
