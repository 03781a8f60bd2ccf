#!/usr/bin/env bash
# Runs every benchmark script in bench/ (each prints a table).
set -euo pipefail
cd "$(dirname "$0")/.."
for s in bench/*.sh; do
  [ "$(basename "$s")" = run.sh ] && continue
  echo "== $s"
  bash "$s"
done
