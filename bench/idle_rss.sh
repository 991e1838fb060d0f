#!/usr/bin/env bash
# lwsws RSS per idle WebSocket connection (opened 500 at a time by
# rtpush-bench, none subscribed), read while they are held.
# Target: <= 4 KB at 10,000.
#   bench/idle_rss.sh [CONNECTIONS]
# Environment: PORT (7781); LWSWS, RTPUSH_PREFIX as in bench/lib.sh. The
# figure is (RSS with them - RSS before) / connections: docs/transport.md
# "What an idle subscribed connection costs" has it block by block.
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-10000}
PORT=${PORT:-7781}
start_node "$PORT"
pid=$(serving_pid)
sleep 0.5
before=$(rss_kb "$pid")
"$BENCH" idle --port "$PORT" --connections "$N" --hold 4 > /tmp/rtpush-idle.$$ &
client=$!
# Measure while the connections are held (the client holds them 4 s).
for _ in $(seq 300); do grep -q connected= /tmp/rtpush-idle.$$ 2>/dev/null && break; sleep 0.1; done
sleep 1
after=$(rss_kb "$pid")
conns=$(curl -s "http://127.0.0.1:$PORT/health" | sed 's/.*"connections":\([0-9]*\).*/\1/')
wait "$client" || true
cat /tmp/rtpush-idle.$$; rm -f /tmp/rtpush-idle.$$
echo "connections_open=$conns rss_before_kb=$before rss_after_kb=$after"
awk -v b="$before" -v a="$after" -v n="$conns" 'BEGIN { printf "rss_per_connection_bytes=%.0f\n", (a - b) * 1024 / n }'
