#!/usr/bin/env bash
# A local S3 server (VersityGW on a folder) for the tests of blob/s3.
#
#   eval "$(scripts/s3-server.sh start)"   build once, start, export the test env
#   scripts/s3-server.sh env               print the exports of the running server
#   scripts/s3-server.sh stop              stop it and delete its data
#
# start builds VersityGW into .tools/ unless it is there (about 100 s cold;
# .tools/ is gitignored and reused, and CI caches the work tree), starts it on
# 127.0.0.1:$ZOO_S3_PORT (default 7070) with its data in .tools/s3data and
# fresh random credentials, waits until it answers, and prints for eval:
#
#   export AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… AWS_REGION=us-east-1
#   export ZOO_TEST_S3='s3://zoo-test?endpoint=127.0.0.1:7070&region=us-east-1&insecure=1'
#
# The tests create the bucket. start is a no-op (it prints the exports) when
# the server is already running. Messages go to stderr, exports to stdout.
set -euo pipefail

VERSION=v1.8.0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/.tools
BIN=$TOOLS/versitygw
DATA=$TOOLS/s3data
PIDFILE=$TOOLS/s3.pid
ENVFILE=$TOOLS/s3.env
LOG=$TOOLS/s3.log
PORT=${ZOO_S3_PORT:-7070}

say() { echo "s3-server: $*" >&2; }

running() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

build() {
  if [[ -x $BIN && "$(cat "$BIN.version" 2>/dev/null)" == "$VERSION" ]]; then
    return
  fi
  say "building VersityGW $VERSION into .tools/ (about 100 s, once)"
  mkdir -p "$TOOLS"
  GOBIN=$TOOLS go install "github.com/versity/versitygw/cmd/versitygw@$VERSION" >&2
  echo "$VERSION" >"$BIN.version"
}

start() {
  if running; then
    say "already running (pid $(cat "$PIDFILE"))"
    cat "$ENVFILE"
    return
  fi
  build
  rm -rf "$DATA" && mkdir -p "$DATA"
  local ak sk
  ak=zoo$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  sk=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
  # Credentials through the environment, not the command line (ps shows it).
  ROOT_ACCESS_KEY_ID=$ak ROOT_SECRET_ACCESS_KEY=$sk \
    nohup "$BIN" --port "127.0.0.1:$PORT" --keep-alive --quiet posix "$DATA" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 100); do
    if ! running; then
      say "VersityGW exited; its log ($LOG):"
      cat "$LOG" >&2
      rm -f "$PIDFILE"
      exit 1
    fi
    # Answering, and still ours (not another server on the port).
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/" && sleep 0.2 && running; then
      umask 077
      cat >"$ENVFILE" <<EOF
export AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_REGION=us-east-1
export ZOO_TEST_S3='s3://zoo-test?endpoint=127.0.0.1:$PORT&region=us-east-1&insecure=1'
EOF
      say "VersityGW listening on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), data in $DATA)"
      cat "$ENVFILE"
      return
    fi
    sleep 0.1
  done
  say "VersityGW did not answer on 127.0.0.1:$PORT within 10 s; its log ($LOG):"
  cat "$LOG" >&2
  stop
  exit 1
}

stop() {
  if running; then
    local pid
    pid=$(cat "$PIDFILE")
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    say "stopped (pid $pid)"
  fi
  rm -rf "$PIDFILE" "$ENVFILE" "$DATA"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  env)
    if ! running; then say "not running; use: eval \"\$(scripts/s3-server.sh start)\""; exit 1; fi
    cat "$ENVFILE" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
