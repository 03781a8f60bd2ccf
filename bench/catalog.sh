#!/usr/bin/env bash
# Catalog metadata reads per second — Version and LatestPublished from
# GOMAXPROCS goroutines (catalogtest.Bench) — on SQLite and PostgreSQL.
# Uses $ZOO_TEST_POSTGRES, or starts (and afterwards stops) the throwaway
# cluster of scripts/pg-server.sh. BENCHTIME and COUNT tune go test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
if [ -z "${ZOO_TEST_POSTGRES:-}" ]; then
	scripts/pg-server.sh status || trap 'scripts/pg-server.sh stop' EXIT
	eval "$(scripts/pg-server.sh start)"
fi
go test -run '^$' -bench Reads -benchtime "${BENCHTIME:-3s}" -count "${COUNT:-3}" ./sqlite ./postgres
