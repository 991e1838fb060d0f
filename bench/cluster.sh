#!/usr/bin/env bash
# One Redis against a three-master Redis Cluster, same run, same two nodes
# (same ports and options, only `redis` differs), same load, alternating
# which goes first (RUNS rounds, 2):
#   - publish throughput and deliveries/s: rtpush-bench fanout --spread over
#     CHANNELS channels (600), SUBSCRIBERS receivers (3,000) over both nodes,
#     MESSAGES publishes (60,000) from one WebSocket publisher on node A
#     (WINDOW in flight, 256);
#   - Redis CPU per publish on each shard: utime+stime of each redis-server
#     (/proc/PID/stat) over the load (everything it did: the scripts, the
#     live messages to the nodes, their heartbeats), divided by the messages
#     its streams hold after (MESSAGES / CHANNELS per channel stays within
#     the history: every publish is one stream entry);
#     and the same with what it burns idle (IDLE seconds, 5, with the nodes
#     connected and no load, before the load: the cluster bus, the nodes'
#     heartbeats and map refreshes) taken out;
#   - the spread: channels per shard (their streams, SCAN on each master) and
#     publishes per shard; the busiest shard's share against the mean (target
#     <= 1.2x).
# Ports: RPORT (one Redis, 7890), CPORT (the cluster's first, 7891..7893, bus
# +10000), A and B (the nodes, 7895, 7896).
cd "$(dirname "$0")/.."
. bench/lib.sh
RPORT=${RPORT:-7890}; CPORT=${CPORT:-7891}; A=${A:-7895}; B=${B:-7896}
CHANNELS=${CHANNELS:-600}; SUBSCRIBERS=${SUBSCRIBERS:-3000}; MESSAGES=${MESSAGES:-60000}
WINDOW=${WINDOW:-256}; PAYLOAD=${PAYLOAD:-64}; RUNS=${RUNS:-2}; IDLE=${IDLE:-5}
CLUSTER_PIDS=()
CLUSTER_DIR=

start_cluster() {
  local i port
  CLUSTER_DIR=$(mktemp -d /tmp/rtpush-bench-cluster.XXXXXX)
  for i in 0 1 2; do
    port=$((CPORT + i))
    mkdir -p "$CLUSTER_DIR/$port"
    setsid redis-server --port "$port" --bind 127.0.0.1 --dir "$CLUSTER_DIR/$port" --save "" --appendonly no \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 1000 \
      >"$CLUSTER_DIR/$port/log" 2>&1 &
    CLUSTER_PIDS+=($!)
    disown $!
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
  redis-cli --cluster create 127.0.0.1:$CPORT 127.0.0.1:$((CPORT + 1)) 127.0.0.1:$((CPORT + 2)) \
    --cluster-replicas 0 --cluster-yes >"$CLUSTER_DIR/create.log" 2>&1 || { cat "$CLUSTER_DIR/create.log"; exit 1; }
  for _ in $(seq 100); do
    ok=0
    for i in 0 1 2; do redis-cli -p $((CPORT + i)) cluster info | grep -q cluster_state:ok && ok=$((ok + 1)); done
    [ "$ok" -eq 3 ] && return 0
    sleep 0.1
  done
  echo "the cluster did not come up"; exit 1
}

stop_cluster() {
  local pid
  for pid in "${CLUSTER_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  CLUSTER_PIDS=()
  [ -z "$CLUSTER_DIR" ] || rm -rf "$CLUSTER_DIR"
  CLUSTER_DIR=
}
trap 'stop_all; stop_cluster' EXIT

stream_entries() {  # the entries of the bench's streams a Redis holds (each its own master)
  redis-cli -p "$1" --scan --pattern 'rtpush:*stream:spread-*' | sed 's/^/XLEN /' | redis-cli -p "$1" |
    awk '{n += $1} END {print n + 0}'
}

# measure NAME URL PORT...: the nodes on URL, the load, then per Redis on PORT...
measure() {
  local name=$1 url=$2; shift 2
  local ports=("$@") pids=() cpu0=() idle=() i out pub_s t0 t1 wall
  start_node "$A" redis "$url" node-id bench-a
  start_node "$B" redis "$url" node-id bench-b
  for i in "${!ports[@]}"; do
    pids[$i]=$(redis-cli -p "${ports[$i]}" info server | tr -d '\r' | awk -F: '/^process_id:/ {print $2}')
    cpu0[$i]=$(cpu_ticks "${pids[$i]}")
  done
  sleep "$IDLE"
  for i in "${!ports[@]}"; do
    idle[$i]=$(( $(cpu_ticks "${pids[$i]}") - cpu0[$i] ))
    cpu0[$i]=$(cpu_ticks "${pids[$i]}")
  done
  t0=$(date +%s.%N)
  out=$("$BENCH" fanout --port "$A,$B" --connections "$SUBSCRIBERS" --messages "$MESSAGES" --spread "$CHANNELS" \
        --window "$WINDOW" --payload-bytes "$PAYLOAD" --channel "spread")
  t1=$(date +%s.%N)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
  echo "== $name: $CHANNELS channels, $SUBSCRIBERS subscribers on 2 nodes, $MESSAGES publishes"
  echo "$out" | grep -E "^receivers=|^elapsed="
  pub_s=$(echo "$out" | awk -F'[= ]' '/^publish_start=/ {printf "%.0f", $6 / ($4 - $2)}')
  echo "publishes_per_sec=$pub_s"
  local hz total=0 counts=() chans=()
  hz=$(getconf CLK_TCK)
  for i in "${!ports[@]}"; do
    local cpu ev ch
    cpu=$(( $(cpu_ticks "${pids[$i]}") - cpu0[$i] )); ev=$(stream_entries "${ports[$i]}")
    ch=$(redis-cli -p "${ports[$i]}" --scan --pattern 'rtpush:*stream:spread-*' | wc -l)
    counts+=("$ev"); chans+=("$ch"); total=$((total + ev))
    awk -v p="${ports[$i]}" -v c="$cpu" -v hz="$hz" -v e="$ev" -v ch="$ch" -v idle="${idle[$i]}" -v is="$IDLE" \
        -v wall="$wall" 'BEGIN {
      busy = c / hz - idle / hz / is * wall
      printf "shard=%s channels=%d publishes=%d redis_cpu_s=%.2f redis_cpu_us_per_publish=%.2f idle_cpu_pct=%.1f without_idle_us_per_publish=%.2f\n",
             p, ch, e, c / hz, e ? c / hz * 1e6 / e : 0, idle / hz / is * 100, e ? busy * 1e6 / e : 0 }'
  done
  if [ "${#ports[@]}" -gt 1 ]; then
    printf '%s\n' "${counts[@]}" | awk -v n="${#ports[@]}" '{ if ($1 > m) m = $1; s += $1 }
      END { printf "publishes: busiest_share=%.3f mean_share=%.3f busiest_over_mean=%.2f (target <= 1.2)\n", m / s, 1 / n, m / (s / n) }'
    printf '%s\n' "${chans[@]}" | awk -v n="${#ports[@]}" '{ if ($1 > m) m = $1; s += $1 }
      END { printf "channels: busiest_over_mean=%.2f\n", m / (s / n) }'
  fi
  stop_node
}

start_redis "$RPORT"
start_cluster
for run in $(seq "$RUNS"); do
  echo "#### round $run"
  if [ $((run % 2)) -eq 1 ]; then
    measure "one Redis" "redis://127.0.0.1:$RPORT" "$RPORT"
    measure "cluster, 3 masters" "redis+cluster://127.0.0.1:$CPORT" "$CPORT" $((CPORT + 1)) $((CPORT + 2))
  else
    measure "cluster, 3 masters" "redis+cluster://127.0.0.1:$CPORT" "$CPORT" $((CPORT + 1)) $((CPORT + 2))
    measure "one Redis" "redis://127.0.0.1:$RPORT" "$RPORT"
  fi
  # the next round starts from the same (empty) data sets
  redis-cli -p "$RPORT" flushall >/dev/null
  for i in 0 1 2; do redis-cli -p $((CPORT + i)) flushall >/dev/null; done
done
