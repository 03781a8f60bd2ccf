#!/usr/bin/env bash
# Mutation testing of the packages whose bugs hurt users most, with
# go-gremlins (github.com/go-gremlins/gremlins v0.6.0, installed into
# .tools/ on first use). Each package is run on its own (`gremlins unleash
# PKG`, so only that package's tests judge its mutants); packages whose
# tests need PostgreSQL or S3 run under scripts/with-test-services.sh.
# At the end it prints one table: killed / lived / not covered / timed out /
# not viable / score, where score = killed / (killed + lived) — the share of
# covered mutants the package's tests catch (timed-out mutants count
# neither way; gremlins calls this "test efficacy").
#
# Usage: scripts/mutation.sh [PKG[=FILE,FILE…] ...]   (default: the list below)
#
# PKG=FILE,… mutates only those files of the package (paths relative to
# PKG; the package's tests still judge them): a focused run when the whole
# package would take too long. Its report is named PKG=FILE,… too.
#
# Environment:
#   WORKERS        gremlins workers (default 1: the test runs are CPU-bound)
#   COEFFICIENT    timeout coefficient (default 30): a mutant's test run may
#                  take this many times gremlins' first coverage run. That
#                  run is often served by Go's build cache (seconds) while
#                  every mutant is compiled and linked afresh, so a small
#                  coefficient on a loaded machine reports slow builds as
#                  "timed out" (seen here with 3 and 15).
#   OUT            folder for the per-package JSON reports and logs
#                  (default bench/mutation-out, not committed)
#   ZOO_PG_PORT, ZOO_S3_PORT   ports of the test services (see
#                  scripts/with-test-services.sh)
#
# It takes long: on a 2-core machine about 1–3 minutes per 100 mutants of a
# package with fast tests (score, session, blob), far more for packages
# whose unit tests run real models or servers (runner, repo, web). It is
# therefore not part of `make test` or CI; run it with `make mutation`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

GREMLINS_VERSION=v0.6.0
gremlins=$root/.tools/gremlins
if [[ ! -x $gremlins ]] || ! go version -m "$gremlins" 2>/dev/null | grep -q "go-gremlins/gremlins[[:space:]]*$GREMLINS_VERSION"; then
	echo "mutation: installing gremlins $GREMLINS_VERSION into .tools/" >&2
	GOBIN=$root/.tools go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
fi

# Fast packages first, so that a run stopped early has the most results.
default_pkgs=(score session blob oip search challenge bundle process web repo runner spec)
pkgs=("$@")
[[ ${#pkgs[@]} -gt 0 ]] || pkgs=("${default_pkgs[@]}")

# Packages whose tests (or their subpackages' tests) use PostgreSQL or S3
# (blob/s3). The other packages' tests use SQLite and disk blobs; their
# PostgreSQL variants live in the postgres package.
needs_services() {
	case $1 in
	blob) return 0 ;;
	esac
	return 1
}

# gremlins times each mutant out at COEFFICIENT × its first (coverage) test
# run. Go's test cache can answer that run in milliseconds when the package
# was tested before, and then every mutant "times out" (seen with
# spec=tensors05.go: 59 of 59): -count=1 makes the coverage run real.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-count=1"

WORKERS=${WORKERS:-1}
COEFFICIENT=${COEFFICIENT:-30}
OUT=${OUT:-$root/bench/mutation-out}
mkdir -p "$OUT"

# gremlins runs the tests in copies of the module under the temporary
# folder, where the relative paths to the fixtures and to lib/ do not
# resolve: name them absolutely.
export ZOO_FIXTURES=${ZOO_FIXTURES:-$(cd "$root/.." && pwd)/shared/fixtures}
if [[ -e $root/lib/libonnxruntime.so.1 ]]; then
	export ZOO_ONNXRUNTIME_LIB=${ZOO_ONNXRUNTIME_LIB:-$(readlink -f "$root/lib/libonnxruntime.so.1")}
fi
if [[ -e $root/lib/libzootorch.so ]]; then
	export ZOO_TORCH_SHIM=${ZOO_TORCH_SHIM:-$(readlink -f "$root/lib/libzootorch.so")}
fi

run_pkg() {
	local name=$1 pkg=${1%%=*} start=$SECONDS
	local args=(unleash --workers "$WORKERS" --timeout-coefficient "$COEFFICIENT" --output "$OUT/$name.json")
	if [[ $name == *=* ]]; then
		# Exclude every other non-test Go file of the package tree.
		local keep=",${name#*=},"
		while IFS= read -r f; do
			f=${f#"$pkg"/}
			[[ $keep == *",$f,"* ]] || args+=(--exclude-files "(^|/)${f//./\\.}\$")
		done < <(find "$pkg" -name '*.go' ! -name '*_test.go' | sort)
	fi
	args+=("./$pkg")
	echo "== mutation: $name (started $(date -u +%H:%M:%S))" >&2
	if needs_services "$pkg"; then
		scripts/with-test-services.sh "$gremlins" "${args[@]}" >"$OUT/$name.log" 2>&1 || true
	else
		"$gremlins" "${args[@]}" >"$OUT/$name.log" 2>&1 || true
	fi
	echo $((SECONDS - start)) >"$OUT/$name.seconds"
	tail -4 "$OUT/$name.log" >&2
}

for pkg in "${pkgs[@]}"; do
	run_pkg "$pkg"
done

scripts/mutation-table.sh "$OUT" "${pkgs[@]}"
