#!/usr/bin/env bash
# Sustained rows per second into PostgreSQL, batched, against one INSERT per
# message measured the same way. The hand-off Stream (rtpush:persist) is
# filled first by rtpush-publish --redis; then a node with PostgreSQL starts
# and we time how long it takes to drain it into rtpush_messages.
#   bench/postgres.sh [ROWS]   (default 100000; the one-INSERT run uses ROWS/5)
cd "$(dirname "$0")/.."
. bench/lib.sh
ROWS=${1:-100000}
RPORT=${RPORT:-7793}; PGPORT=${PGPORT:-7794}; NPORT=${NPORT:-7795}

drain() {  # drain BATCH ROWS: prints rows/s
  local batch=$1 rows=$2 start end
  redis-cli -p "$RPORT" flushall >/dev/null
  redis-cli -p "$RPORT" hset rtpush:config persist 1 >/dev/null
  redis-cli -p "$RPORT" xgroup create rtpush:persist writers 0 mkstream >/dev/null
  psql -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "DROP TABLE IF EXISTS rtpush_messages" >/dev/null 2>&1
  seq 1 "$rows" | sed 's/.*/{"n":&,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}/' \
    | "$PUBLISH" --redis "redis://127.0.0.1:$RPORT" --channel pg-bench >/dev/null
  written() { curl -s "http://127.0.0.1:$NPORT/metrics" | awk '/^rtpush_pg_rows_written_total/ {print $2}'; }
  start_node "$NPORT" redis "redis://127.0.0.1:$RPORT" postgres "$PG_CONNINFO" pg-batch-size "$batch"
  # Timed from the first poll after start-up, over the rows written since.
  start=$(date +%s.%N); first=$(written)
  until [ "$(written)" = "$rows" ]; do sleep 0.02; done
  end=$(date +%s.%N)
  stop_node
  awk -v s="$start" -v e="$end" -v n="$((rows - first))" -v b="$batch" \
    'BEGIN { printf "pg-batch-size=%d rows=%d seconds=%.3f rows_per_sec=%.0f\n", b, n, e - s, n / (e - s) }'
}

start_redis "$RPORT"
start_postgres "$PGPORT"
echo "== batched (pg-batch-size 1000)"
drain 1000 "$ROWS"
echo "== one INSERT per message (pg-batch-size 1)"
drain 1 $((ROWS / 5))
