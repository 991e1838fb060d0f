#!/usr/bin/env bash
# The cost of a subscribe as the connection holds more channels: one
# connection subscribes to H channels, then K more are timed (sent at once,
# until the K-th `subscribed`). Flat means O(1) per subscribe.
#   bench/subscribe.sh [H...]   default: 1 1000 10000; K=5000 (SUBSCRIBES)
cd "$(dirname "$0")/.."
. bench/lib.sh
PORT=${PORT:-7786}
K=${SUBSCRIBES:-5000}
held=("$@")
[ ${#held[@]} -gt 0 ] || held=(1 1000 10000)
start_node "$PORT" max-channels-per-connection 1000000
for h in "${held[@]}"; do
  for run in 1 2 3; do
    "$BENCH" subscribe --port "$PORT" --channel "s$run-$h" --channels "$h" --messages "$K"
  done
done
stop_node
