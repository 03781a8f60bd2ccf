#!/usr/bin/env bash
# Regenerates spec/data/spdx-*.txt from the npm package spdx-license-ids.
# Usage: scripts/update-spdx.sh [VERSION]   (default 3.0.22 = SPDX list 3.27.0)
set -euo pipefail
v=${1:-3.0.22}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "spdx-license-ids@$v" >/dev/null && tar xzf spdx-license-ids-*.tgz)
{
  echo "# SPDX license list: current license ids, one per line."
  echo "# Source: npm package spdx-license-ids@$v (index.json). Regenerate: scripts/update-spdx.sh"
  node -e 'for (const id of require(process.argv[1]).sort()) console.log(id)' "$tmp/package/index.json"
} > "$root/spec/data/spdx-licenses.txt"
{
  echo "# SPDX license list: deprecated license ids (still accepted, with a warning)."
  echo "# Source: npm package spdx-license-ids@$v (deprecated.json) plus the six '+' ids the"
  echo "# SPDX list marks deprecated but that package omits."
  node -e 'const d=new Set(require(process.argv[1])); for (const x of ["GPL-1.0+","GPL-2.0+","GPL-3.0+","LGPL-2.0+","LGPL-2.1+","LGPL-3.0+"]) d.add(x); for (const id of [...d].sort()) console.log(id)' "$tmp/package/deprecated.json"
} > "$root/spec/data/spdx-deprecated.txt"
