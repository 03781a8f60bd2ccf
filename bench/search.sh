#!/usr/bin/env bash
# Search latency and throughput (searchtest.Bench) on SQLite (FTS5) and
# PostgreSQL (tsvector + GIN) at 10,000 and 100,000 published models
# generated from the rdf-corpus with variations. Each size is bulk-loaded
# once (index, then catalog rows, one transaction each); then QUERIES
# queries of the mix (text, text + facet filter, facet only) run one after
# the other (p50/p95 per kind) and again from 4 goroutines (throughput).
# Uses $ZOO_TEST_POSTGRES, or starts (and afterwards stops) the throwaway
# cluster of scripts/pg-server.sh.
#   MODELS=10000,100000  QUERIES=320  BACKENDS="sqlite postgres"
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
backends=${BACKENDS:-sqlite postgres}
if [[ " $backends " == *" postgres "* ]] && [ -z "${ZOO_TEST_POSTGRES:-}" ]; then
	scripts/pg-server.sh status || trap 'scripts/pg-server.sh stop' EXIT
	eval "$(scripts/pg-server.sh start)"
fi
export ZOO_BENCH_SEARCH_MODELS=${MODELS:-10000,100000}
export ZOO_BENCH_SEARCH_QUERIES=${QUERIES:-320}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| backend | models | queries | p50 | p95 | throughput |"
echo "|---|---:|---|---:|---:|---|"
for b in $backends; do
	go test -run '^$' -bench '^BenchmarkSearch$' -benchtime 1x -timeout 2h "./$b" | grep '^|' || { echo "$b: benchmark failed" >&2; exit 1; }
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
