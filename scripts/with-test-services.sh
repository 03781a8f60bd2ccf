#!/usr/bin/env bash
# with-test-services.sh CMD... — runs CMD with the servers the tests use:
# a throwaway PostgreSQL cluster (scripts/pg-server.sh) and a VersityGW S3
# server (scripts/s3-server.sh), started before and stopped after.
#
# Without PostgreSQL installed (apt-get install -y postgresql; .ci/run does
# it), the PostgreSQL tests skip — except in strict mode (ZOO_TEST_STRICT=1,
# which make test sets, or CI set without ZOO_TEST_STRICT: internal/testenv),
# where they must run, so this script fails instead.
set -uo pipefail
cd "$(dirname "$0")/.."

# strict mirrors testenv.Strict.
strict() {
	local v="${ZOO_TEST_STRICT:-}"
	[ -n "$v" ] || v="${CI:-}"
	case "${v,,}" in "" | 0 | false | no | off) return 1 ;; esac
	return 0
}

started=()
cleanup() {
	for s in "${started[@]}"; do scripts/$s stop >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	if out=$(scripts/pg-server.sh start); then
		eval "$out"; started+=(pg-server.sh)
	else
		echo "with-test-services: PostgreSQL did not start" >&2; exit 1
	fi
elif strict; then
	echo "with-test-services: PostgreSQL is not installed (apt-get install -y postgresql); strict mode (ZOO_TEST_STRICT=0 to skip its tests)" >&2; exit 1
else
	echo "with-test-services: PostgreSQL not installed; its tests will skip (.ci/run installs it)" >&2
fi

if out=$(scripts/s3-server.sh start); then
	eval "$out"; started+=(s3-server.sh)
else
	echo "with-test-services: the S3 server (VersityGW) did not start" >&2; exit 1
fi

"$@"
