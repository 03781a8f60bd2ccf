#!/usr/bin/env bash
# sizing.sh — peak memory of a scaled-out replica and worker (docs/deploy.md,
# "Sizing"): one `zoo serve --workers 0` and one `zoo worker` on the test
# PostgreSQL and S3; every shared fixture package uploaded, tested,
# published and downloaded 3 times; the home, search and collection pages
# read. Prints VmHWM of both processes.
#
#   go build -o bin/zoo ./cmd/zoo && scripts/with-test-services.sh bench/sizing.sh
set -uo pipefail
cd "$(dirname "$0")/.."
Z=bin/zoo
FIX=${ZOO_FIXTURES:-../shared/fixtures}
[ -d "$FIX/packages" ] || FIX=/work/shared/fixtures
base=${ZOO_TEST_POSTGRES%/*}
DB="$base/zoo_sizing?sslmode=disable"
psql "$ZOO_TEST_POSTGRES" -q -c "DROP DATABASE IF EXISTS zoo_sizing WITH (FORCE)" -c "CREATE DATABASE zoo_sizing" 2>/dev/null
BL="s3://zoo-sizing?${ZOO_TEST_S3#*\?}"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
S=http://127.0.0.1:$PORT
spool=$(mktemp -d) && chmod 755 "$spool" # the sandbox user (nobody) must reach it
$Z migrate --db "$DB" >/dev/null 2>&1 || true
TOK=$($Z admin token --db "$DB" --user sizing --role admin 2>/dev/null)
TMPDIR=$spool $Z serve --workers 0 --db "$DB" --blobs "$BL" --addr 127.0.0.1:$PORT >"$spool/serve.log" 2>&1 & SP=$!
TMPDIR=$spool $Z worker --db "$DB" --blobs "$BL" --concurrency 2 >"$spool/worker.log" 2>&1 & WP=$!
trap 'kill $SP $WP 2>/dev/null; wait; rm -rf "$spool"' EXIT
for _ in $(seq 100); do curl -fs $S/readyz >/dev/null && break; sleep 0.2; done
for f in "$FIX"/packages/*/; do
  id=$($Z upload --server $S --token "$TOK" "$f" --json | jq -r .id)
  for _ in $(seq 300); do st=$($Z show --server $S --token "$TOK" "$id/1" --json | jq -r .test_status); [ "$st" != pending ] && break; sleep 1; done
  echo "$id: test $st, package folder $(du -sh "$f" | cut -f1)"
  $Z review --server $S --token "$TOK" accept "$id/1" >/dev/null 2>&1
  for _ in 1 2 3; do curl -s -o /dev/null "$S/packages/$id/1?silent=1"; done
  curl -s -o /dev/null "$S/models/$id"
done
curl -s -o /dev/null $S/; curl -s -o /dev/null "$S/search?q=nuclei"; curl -s -o /dev/null $S/collection.json
echo "replica (zoo serve --workers 0) $(grep VmHWM /proc/$SP/status)"
echo "worker (zoo worker --concurrency 2) $(grep VmHWM /proc/$WP/status)"
