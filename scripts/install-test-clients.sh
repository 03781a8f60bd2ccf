#!/usr/bin/env bash
# Installs the real client tools some tests run against zoo, from npm at
# pinned versions, into .tools/npm (or the folder given as $1), and prints
# that folder. Tests find it through ZOO_TEST_NPM (and the Hugging Face
# client test through ZOO_TEST_HFJS); .ci/run sets both. Safe to run twice.
#
#   @huggingface/hub   the Hugging Face JS client (hub/hfclient_test.go)
#   schema-dts         schema.org's vocabulary as TypeScript types, and
#   typescript         the compiler that checks JSON-LD against them (fair)
#   @redocly/cli       an OpenAPI linter (cmd/zoo/openapi_test.go)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.tools/npm}"
pkgs=("@huggingface/hub@2.17.5" "schema-dts@2.1.0" "typescript@5.9.3" "@redocly/cli@2.77.0")
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
stamp="$dir/.installed"
if [[ -f "$stamp" && "$(cat "$stamp")" == "${pkgs[*]}" ]]; then
	echo "$dir"
	exit 0
fi
command -v npm >/dev/null || { echo "install-test-clients: npm is needed (apt-get install npm)" >&2; exit 1; }
[[ -f "$dir/package.json" ]] || echo '{"private": true}' >"$dir/package.json"
(cd "$dir" && npm install --no-audit --no-fund --silent "${pkgs[@]}" >&2)
echo "${pkgs[*]}" >"$stamp"
echo "$dir"
