#!/usr/bin/env bash
# pg-server.sh — a throwaway PostgreSQL cluster for zoo's tests.
#
#   eval "$(scripts/pg-server.sh start)"   # start (or reuse) it, export ZOO_TEST_POSTGRES
#   scripts/pg-server.sh env               # print the export line again
#   scripts/pg-server.sh status            # exit 0 if it is running
#   scripts/pg-server.sh stop              # stop it and delete its files
#
# The cluster uses Debian's PostgreSQL (apt-get install -y postgresql; .ci/run
# installs it), listens on 127.0.0.1:$ZOO_PG_PORT (default 55432) with trust
# auth, keeps its unix socket in its data directory, and runs with fsync,
# synchronous_commit and full_page_writes off: fast, and fine to lose. Its
# files live in $ZOO_PG_DIR (default /tmp/zoo-pg-$ZOO_PG_PORT), outside the
# work tree so that the postgres user can reach them.
#
# initdb and postgres refuse to run as root, so as root both run as the
# postgres user (runuser); as any other user they run as that user.
#
# Only the export line goes to stdout, so `eval "$(… start)"` works; progress
# and errors go to stderr. The tests create one database per test in this
# cluster and drop it afterwards (see postgres/pgtest).
set -euo pipefail

port=${ZOO_PG_PORT:-55432}
root=${ZOO_PG_DIR:-/tmp/zoo-pg-$port}
data=$root/data
url="postgres://postgres@127.0.0.1:$port/zoo_test?sslmode=disable"

die() {
	echo "pg-server: $*" >&2
	exit 1
}

# pgbin finds the newest installed server binaries.
pgbin() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[[ -x $d/initdb ]] && { echo "$d"; return; }
	done
	die "no PostgreSQL server found under /usr/lib/postgresql; install it with: apt-get install -y postgresql"
}

# as runs a command as the postgres user when we are root.
as() {
	if [[ $(id -u) == 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

running() {
	[[ -f $data/postmaster.pid ]] && as "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

case "${1:-}" in
start)
	bin=$(pgbin)
	if ! running; then
		if [[ ! -f $data/PG_VERSION ]]; then
			rm -rf "$root"
			mkdir -p "$root"
			[[ $(id -u) == 0 ]] && chown postgres:postgres "$root"
			as "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$root/initdb.log" 2>&1 ||
				die "initdb failed; see $root/initdb.log"
		fi
		as "$bin/pg_ctl" -D "$data" -l "$root/log" -w -t 30 start \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			>/dev/null || die "the server did not start; see $root/log"
		echo "pg-server: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, files in $root" >&2
	fi
	as "$bin/psql" -h "$data" -p "$port" -U postgres -d postgres -qAtc "SELECT 1 FROM pg_database WHERE datname = 'zoo_test'" | grep -q 1 ||
		as "$bin/psql" -h "$data" -p "$port" -U postgres -d postgres -qc "CREATE DATABASE zoo_test" >/dev/null
	echo "export ZOO_TEST_POSTGRES=$url"
	;;
env)
	echo "export ZOO_TEST_POSTGRES=$url"
	;;
status)
	[[ -d $data ]] && bin=$(pgbin) && running
	;;
stop)
	if [[ -d $data ]]; then
		bin=$(pgbin)
		if running; then
			as "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
		fi
	fi
	rm -rf "$root"
	;;
*)
	echo "usage: $0 start|stop|env|status" >&2
	exit 2
	;;
esac
