#!/usr/bin/env bash
# Deliveries per second fanning one channel out to N subscribers, from the
# one lws service thread, client on the same machine (both share 2 cores).
#   bench/fanout.sh [SUBSCRIBERS...]   default: 1000 10000
# ENCODINGS=mix: subscribers speak JSON, MessagePack and Protocol Buffers in
# turn (a third each); default all JSON.
cd "$(dirname "$0")/.."
. bench/lib.sh
PORT=${PORT:-7782}
MESSAGES=${MESSAGES:-}
PAYLOAD=${PAYLOAD:-64}
WINDOW=${WINDOW:-64}
ENCODINGS=${ENCODINGS:-json}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000)
for n in "${sizes[@]}"; do
  m=${MESSAGES:-$((2000000 / n))}  # about 2 million deliveries per run
  start_node "$PORT"
  pid=$(serving_pid)
  c0=$(cpu_ticks "$pid")
  echo "== $n subscribers ($ENCODINGS) x $m messages, payload $PAYLOAD bytes, window $WINDOW"
  "$BENCH" fanout --port "$PORT" --connections "$n" --messages "$m" --payload-bytes "$PAYLOAD" --window "$WINDOW" \
    --encodings "$ENCODINGS"
  c1=$(cpu_ticks "$pid")
  echo "server_cpu_seconds=$(awk -v t=$((c1 - c0)) 'BEGIN { printf "%.2f", t / 100 }')"
  stop_node
done
