#!/usr/bin/env bash
# Replay of N messages from PostgreSQL to one client: N messages published
# through Redis (which keeps history-size 1000 of them), written to
# PostgreSQL by a node; then a client subscribes with `since` = the first id
# and we time the arrival of the N-1 after it (all but the last 1000 from
# PostgreSQL).   bench/replay.sh [N]   (default 100000)
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-100000}
RPORT=${RPORT:-7796}; PGPORT=${PGPORT:-7797}; NPORT=${NPORT:-7798}

start_redis "$RPORT"
start_postgres "$PGPORT"
start_node "$NPORT" redis "redis://127.0.0.1:$RPORT" postgres "$PG_CONNINFO"
until [ "$(redis-cli -p "$RPORT" hget rtpush:config persist)" = 1 ]; do sleep 0.05; done
seq 1 "$N" | sed 's/.*/{"n":&,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}/' \
  | "$PUBLISH" --redis "redis://127.0.0.1:$RPORT" --channel replay-bench > /tmp/rtpush-replay-ids.$$
first=$(head -n1 /tmp/rtpush-replay-ids.$$); rm -f /tmp/rtpush-replay-ids.$$
until [ "$(curl -s "http://127.0.0.1:$NPORT/metrics" | awk '/^rtpush_pg_rows_written_total/ {print $2}')" = "$N" ]; do
  sleep 0.1
done
echo "== replay of $((N - 1)) messages, $((N - 1 - 1000)) of them from PostgreSQL, to one client"
"$BENCH" replay --port "$NPORT" --channel replay-bench --since "$first" --messages $((N - 1))
curl -s "http://127.0.0.1:$NPORT/metrics" | grep -E '^rtpush_pg_replay_rows_total|^rtpush_slow_consumers_total'
echo "== again (PostgreSQL's cache warm)"
"$BENCH" replay --port "$NPORT" --channel replay-bench --since "$first" --messages $((N - 1))
