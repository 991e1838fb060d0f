#!/usr/bin/env bash
# Two nodes sharing one Redis:
#  1. publish-to-delivery latency, 1,000 subscribers over both nodes, 100
#     messages a second (100,000 deliveries a second), publisher on node A;
#  2. fan-out rate, 10,000 subscribers over both nodes, against the same on
#     one node with the embedded broker;
#  3. rtpush-publish --redis from standard input (100,000 lines).
cd "$(dirname "$0")/.."
. bench/lib.sh
RPORT=${RPORT:-7790}; A=${A:-7791}; B=${B:-7792}
start_redis "$RPORT"
start_node "$A" redis "redis://127.0.0.1:$RPORT" node-id bench-a
start_node "$B" redis "redis://127.0.0.1:$RPORT" node-id bench-b

echo "== latency: 1000 subscribers on 2 nodes, 100 msg/s for 10 s, through Redis"
"$BENCH" latency --port "$A,$B" --connections 1000 --messages 1000 --rate 100

echo "== fan-out: 10000 subscribers on 2 nodes through Redis, 200 messages"
"$BENCH" fanout --port "$A,$B" --connections 10000 --messages 200 --window 64 | grep -E "receivers|elapsed"

echo "== rtpush-publish --redis: 100000 lines from standard input"
start=$(date +%s.%N)
seq 1 100000 | "$PUBLISH" --redis "redis://127.0.0.1:$RPORT" --channel cli-bench | wc -l
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "seconds=%.3f messages_per_sec=%.0f\n", e - s, 100000 / (e - s) }'
stop_all

echo "== the same fan-out on one node, embedded broker"
start_node "$A"
"$BENCH" fanout --port "$A" --connections 10000 --messages 200 --window 64 | grep -E "receivers|elapsed"
