#!/usr/bin/env bash
# bench/failover.sh cluster: time from SIGKILL of a Redis Cluster master to
# the first publish accepted again on a channel of that shard. Three masters
# with a replica each, cluster-node-timeout NODE_TIMEOUT ms (1000), one node
# (PORT, 7995) with the cluster's seeds; a publisher POSTs to the channel
# every 5 ms over HTTP (each answer within 5 s: published or 503); once it
# publishes, the channel's master is SIGKILLed. RUNS kills (3): after each
# the killed server comes back (a replica of the promoted one) and the next
# run kills the channel's master of then. CPORT: the cluster's first port
# (7981..7986, bus +10000).
cd "$(dirname "$0")/.."
. bench/lib.sh
CPORT=${CPORT:-7981}; PORT=${PORT:-7995}; NODE_TIMEOUT=${NODE_TIMEOUT:-1000}; RUNS=${RUNS:-3}
CHANNEL=${CHANNEL:-failover-bench}
CLUSTER_DIR=$(mktemp -d /tmp/rtpush-bench-cluster.XXXXXX)
declare -A CLUSTER_PID

start_server() {  # start_server PORT: one cluster node (its nodes.conf kept across restarts)
  mkdir -p "$CLUSTER_DIR/$1"
  setsid redis-server --port "$1" --bind 127.0.0.1 --dir "$CLUSTER_DIR/$1" --save "" --appendonly no \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$NODE_TIMEOUT" \
    --repl-diskless-sync-delay 0 >>"$CLUSTER_DIR/$1/log" 2>&1 &
  CLUSTER_PID[$1]=$!
  disown $!
  for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "redis-server $1 did not start"; exit 1
}
stop_cluster() {
  local p
  for p in "${!CLUSTER_PID[@]}"; do kill -KILL "${CLUSTER_PID[$p]}" 2>/dev/null || true; done
  rm -rf "$CLUSTER_DIR"
}
trap 'stop_all; stop_cluster' EXIT

cluster_ok() {  # every live node: cluster_state:ok, every replica linked
  local p
  for p in "${!CLUSTER_PID[@]}"; do
    kill -0 "${CLUSTER_PID[$p]}" 2>/dev/null || continue
    redis-cli -p "$p" cluster info | grep -q cluster_state:ok || return 1
    redis-cli -p "$p" info replication | tr -d '\r' | grep -q 'master_link_status:down' && return 1
  done
  return 0
}
wait_ok() {
  for _ in $(seq 300); do cluster_ok && return 0; sleep 0.1; done
  echo "the cluster is not ok"; exit 1
}

PORTS=()
for i in 0 1 2 3 4 5; do PORTS+=($((CPORT + i))); start_server $((CPORT + i)); done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${PORTS[@]}") --cluster-replicas 1 --cluster-yes \
  >"$CLUSTER_DIR/create.log" 2>&1 || { cat "$CLUSTER_DIR/create.log"; exit 1; }
wait_ok
start_node "$PORT" redis "redis+cluster://127.0.0.1:$CPORT,127.0.0.1:$((CPORT + 1)),127.0.0.1:$((CPORT + 2))" \
  node-id failover-bench
curl -sf -X POST -H 'Content-Type: application/json' -d 0 "http://127.0.0.1:$PORT/publish/$CHANNEL" >/dev/null

echo "== cluster: 3 masters + 3 replicas, cluster-node-timeout $NODE_TIMEOUT ms, one node, a publish every 5 ms"
for run in $(seq "$RUNS"); do
  victim=
  for p in "${PORTS[@]}"; do  # the master holding the channel's stream
    kill -0 "${CLUSTER_PID[$p]}" 2>/dev/null || continue
    redis-cli -p "$p" info replication | tr -d '\r' | grep -q '^role:master' || continue
    [ -n "$(redis-cli -p "$p" --scan --pattern "rtpush:*:stream:$CHANNEL")" ] && victim=$p
  done
  [ -n "$victim" ] || { echo "no master holds $CHANNEL"; exit 1; }
  /usr/bin/python3 - "$PORT" "$CHANNEL" "${CLUSTER_PID[$victim]}" "$run" "$victim" <<'PY'
import http.client, json, os, signal, sys, time
port, channel, pid, run, victim = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
killed = None
refused = 0
slowest = 0.0
while True:
    t = time.monotonic()
    try:
        conn.request("POST", "/publish/" + channel, "1", {"Content-Type": "application/json"})
        r = conn.getresponse()
        status = r.status
        r.read()
    except (OSError, http.client.HTTPException):
        status = None
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    slowest = max(slowest, time.monotonic() - t)
    if status == 200 and killed is None:
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
    elif status == 200:
        print("run=%s killed_master=%s kill_to_first_publish_s=%.3f refused_meanwhile=%d slowest_answer_s=%.3f"
              % (run, victim, time.monotonic() - killed, refused, slowest))
        break
    elif killed is not None:
        refused += 1
        if time.monotonic() - killed > 60:
            print("run=%s no publish accepted within 60 s" % run)
            sys.exit(1)
    time.sleep(0.005)
PY
  start_server "$victim"  # back, as a replica of the promoted one
  wait_ok
done
