#!/usr/bin/env bash
# Time from SIGTERM to the serving process's exit (docs/operations.md
# "Stopping a node"), with CONNECTIONS idle WebSocket connections open and a
# full PostgreSQL batch waiting in memory: embedded broker, pg-batch-size
# 100000 and pg-flush-ms 2000, ROWS messages published just before the
# signal (rtpush-bench fanout, one receiver), so none is written yet
# (rtpush_pg_backlog_rows, read just before the signal, says how many wait).
#   bench/stop.sh [CONNECTIONS] [ROWS]      (default 10000 20000)
# Environment: PORT (8300), PGPORT (8301), RUNS (2); LWSWS, RTPUSH_PREFIX
# as in bench/lib.sh. Each run prints the rows waiting at the signal (from
# rtpush_pg_backlog_rows), the seconds to exit, and the rows PostgreSQL then holds.
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-10000}
ROWS=${2:-20000}
PORT=${PORT:-8300}
PGPORT=${PGPORT:-8301}
RUNS=${RUNS:-2}
OUT=$(mktemp -d /tmp/rtpush-bench-stop.XXXXXX)
CLIENT=
cleanup() {
  [ -z "$CLIENT" ] || kill "$CLIENT" 2>/dev/null || true
  rm -rf "$OUT"
  stop_all
}
trap cleanup EXIT

# The process has exited: gone, or a zombie nobody reaps (its parent, the
# lwsws root, died of the same SIGTERM).
exited() {
  [ ! -r "/proc/$1/stat" ] && return 0
  [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

start_postgres "$PGPORT"
sql() { psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -Atqc "$1"; }
for run in $(seq "$RUNS"); do
  sql "DROP TABLE IF EXISTS rtpush_messages, rtpush_dead_letters" >/dev/null 2>&1 || true
  start_node "$PORT" postgres "$PG_CONNINFO" pg-batch-size 100000 pg-flush-ms 2000 stop-timeout-secs 10
  root=$NODE_PID
  pid=$(serving_pid)
  log=${NODE_DIRS[-1]}/log
  "$BENCH" idle --port "$PORT" --connections "$N" --hold 120 >"$OUT/idle" 2>&1 &
  CLIENT=$!
  for _ in $(seq 600); do grep -q connected= "$OUT/idle" 2>/dev/null && break; sleep 0.1; done
  "$BENCH" fanout --port "$PORT" --connections 1 --messages "$ROWS" --channel stop-bench >"$OUT/fanout" 2>&1
  open=$(curl -s "http://127.0.0.1:$PORT/health" | sed 's/.*"connections":\([0-9]*\).*/\1/')
  waiting=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^rtpush_pg_backlog_rows/ {print $2}')
  start=$(date +%s.%N)
  kill -TERM -- "-$root"
  until exited "$pid"; do sleep 0.005; done
  end=$(date +%s.%N)
  kill "$CLIENT" 2>/dev/null || true  # its connections are closed; it would hold on
  wait "$CLIENT" 2>/dev/null || true
  CLIENT=
  rows=$(sql "SELECT count(*) FROM rtpush_messages")
  # The bench's log level (-d 3) shows errors: the stop logs one when it
  # could not finish within stop-timeout-secs.
  incomplete=$(grep -c "stop incomplete" "$log" || true)
  awk -v r="$run" -v s="$start" -v e="$end" -v c="$open" -v w="${waiting:-?}" -v n="$rows" -v k="$incomplete" \
    'BEGIN { printf "run=%d connections=%d rows_waiting_at_signal=%s seconds_to_exit=%.3f rows_in_postgres=%d incomplete=%d\n", r, c, w, e - s, n, k }'
  stop_node
done
