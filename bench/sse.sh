#!/usr/bin/env bash
# Server-Sent Events against WebSocket fan-out, same run, same publisher:
# N SSE listeners (GET /sse/<channel>) and N WebSocket subscribers (JSON) of
# one channel on one node, each kind in its own client process (a process
# holds at most 20,000 descriptors), one publisher in a third. Each kind's
# rate is its deliveries over the time from the first publish to its last
# delivery (CLOCK_MONOTONIC, shared by the processes).
#   bench/sse.sh [N]   default 9990; MESSAGES (default 100), PAYLOAD (64), RUNS (2)
# 9,990 and not 10,000 of each: the node is one process too, and no process
# here may hold more than 20,000 descriptors (the hard limit; lwsws's
# rlimit-nofile cannot raise it): 2 x 9,990 connections, the publisher, the
# listening socket and lws's own descriptors fit under it, 2 x 10,000 do not.
cd "$(dirname "$0")/.."
. bench/lib.sh
PORT=${PORT:-8150}
N=${1:-9990}
MESSAGES=${MESSAGES:-100}
PAYLOAD=${PAYLOAD:-64}
WINDOW=${WINDOW:-64}
RUNS=${RUNS:-2}
out=$(mktemp -d /tmp/rtpush-bench-sse.XXXXXX)
rate() {  # rate FILE PUBLISH_START: deliveries per second of that receiver process
  awk -v t0="$2" '/^receivers=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { if (v["last_rx"] > t0) printf "%.0f", v["delivered"] / (v["last_rx"] - t0); else print 0 }' "$1"
}
for run in $(seq "$RUNS"); do
  # Alternate which kind connects first (and so sits first in the channel's
  # subscriber list, served first on each message).
  kinds=(sse ws)
  [ $((run % 2)) -eq 0 ] && kinds=(ws sse)
  # A port per run: the last run's 20,000 closed connections may still hold its own.
  port=$((PORT + run - 1))
  start_node "$port"
  pid=$(serving_pid)
  pids=()
  for kind in "${kinds[@]}"; do
    "$BENCH" fanout --port "$port" --connections "$N" --messages "$MESSAGES" --role receivers --receivers "$kind" \
      --timeout 300 >"$out/$kind" 2>&1 &
    pids+=($!)
    for _ in $(seq 600); do grep -qs '^ready=\|^error' "$out/$kind" && break; sleep 0.1; done
    grep -q '^ready=' "$out/$kind" || { echo "$kind receivers failed:"; cat "$out/$kind"; stop_node; exit 1; }
  done
  c0=$(cpu_ticks "$pid")
  "$BENCH" fanout --port "$port" --connections 0 --messages "$MESSAGES" --payload-bytes "$PAYLOAD" \
    --window "$WINDOW" --role publisher >"$out/pub"
  for p in "${pids[@]}"; do wait "$p" || true; done
  c1=$(cpu_ticks "$pid")
  t0=$(sed -n 's/.*publish_start=\([0-9.]*\).*/\1/p' "$out/pub")
  sse=$(rate "$out/sse" "$t0")
  ws=$(rate "$out/ws" "$t0")
  echo "== run $run: $N SSE + $N WebSocket receivers x $MESSAGES messages, payload $PAYLOAD (first: ${kinds[0]})"
  echo "sse: $(grep '^receivers=' "$out/sse")"
  echo "ws:  $(grep '^receivers=' "$out/ws")"
  echo "sse_deliveries_per_sec=$sse ws_deliveries_per_sec=$ws ratio=$(awk -v a="$sse" -v b="$ws" 'BEGIN { printf "%.2f", a / b }')"
  echo "server_cpu_seconds=$(awk -v t=$((c1 - c0)) 'BEGIN { printf "%.2f", t / 100 }')"
  stop_node
done
rm -rf "$out"
