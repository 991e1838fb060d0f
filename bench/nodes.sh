#!/usr/bin/env bash
# Fan-out through nginx to one node and to two nodes (Redis between them),
# same run, alternating which goes first (RUNS rounds, 2). The nodes and the
# nginx site come from tools/rtpush-nodes, as on a host run with
# rtpush@.service; the one-node case uses Redis too, so only the number of
# nodes changes. Subscribers and publisher all connect to nginx's port.
#   bench/nodes.sh [SUBSCRIBERS]     default 5000 (nginx holds two descriptors
#                                    per subscriber within this machine's 20,000)
# MESSAGES (2,000,000 deliveries / SUBSCRIBERS), PAYLOAD (64), WINDOW (64),
# RUNS (2), PORT (first node, 8400), NGINX_PORT (8450), RPORT (Redis, 8449),
# NGINX_WORKERS (auto).
cd "$(dirname "$0")/.."
. bench/lib.sh
PORT=${PORT:-8400}; NGINX_PORT=${NGINX_PORT:-8450}; RPORT=${RPORT:-8449}
SUBSCRIBERS=${1:-5000}
MESSAGES=${MESSAGES:-$((2000000 / SUBSCRIBERS))}
PAYLOAD=${PAYLOAD:-64}; WINDOW=${WINDOW:-64}; RUNS=${RUNS:-2}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
GENERATOR=$RTPUSH_PREFIX/bin/rtpush-nodes
[ -x "$GENERATOR" ] || { echo "no $GENERATOR: install first"; exit 1; }

NGINX_PID=
GEN_DIR=
stop_nginx() {
  if [ -n "$NGINX_PID" ]; then kill -TERM -- "-$NGINX_PID" 2>/dev/null || true; wait_gone "$NGINX_PID"; NGINX_PID=; fi
}
wait_gone() {
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null || true
}
stop_everything() {
  stop_nginx
  stop_all
  [ -z "$GEN_DIR" ] || rm -rf "$GEN_DIR"
}
trap stop_everything EXIT

# start_nodes K: K nodes and nginx, from rtpush-nodes' output.
start_nodes() {
  local k=$1 i
  GEN_DIR=$(mktemp -d /tmp/rtpush-bench-nodes.XXXXXX)
  "$GENERATOR" --nodes "$k" --base-port "$PORT" --redis "redis://127.0.0.1:$RPORT" \
    --prefix "$RTPUSH_PREFIX" --listen "$NGINX_PORT" --out "$GEN_DIR" >/dev/null
  for i in $(seq "$k"); do
    run_node "$GEN_DIR/nodes/node$i" "http://127.0.0.1:$((PORT + i - 1))"
  done
  # The generated site inside http {}, as in /etc/nginx/sites-enabled/.
  # Every client of the bench comes from 127.0.0.1: the site's per-address
  # limits (connections, handshake rate) would refuse all but a few hundred
  # of them, and its access log would time the disk; both go for the bench.
  local d=$GEN_DIR/nginx
  sed -i -e '/^ *limit_conn rtpush_conn_per_addr /d' -e '/^ *limit_req zone=rtpush_handshakes_per_addr /d' \
    -e 's#^\( *access_log\) .*;#\1 off;#' "$d/rtpush-upstream.conf"
  cat > "$d/nginx.conf" <<CONF
$([ "$(id -u)" -eq 0 ] && echo "user root;")
worker_processes $NGINX_WORKERS;
worker_rlimit_nofile 20000;
error_log $d/error.log warn;
pid $d/nginx.pid;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fcgi;
  uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  include $d/rtpush-upstream.conf;
}
CONF
  nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" -t -q
  setsid nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" -g "daemon off;" >"$d/log" 2>&1 &
  NGINX_PID=$!
  disown "$NGINX_PID"
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$NGINX_PORT/health" >/dev/null && return 0; sleep 0.1; done
  echo "nginx did not start:"; cat "$d/error.log"; exit 1
}

stop_nodes() {
  stop_nginx
  stop_node
  rm -rf "$GEN_DIR"; GEN_DIR=
}

# The CPU seconds of every node's serving child (lwsws forks).
nodes_cpu_ticks() {
  local pid total=0
  for pid in "${NODE_PIDS[@]}"; do total=$((total + $(cpu_ticks "$(serving_pid "$pid")"))); done
  echo "$total"
}

run_one() {
  local k=$1 out c0 c1 n0 n1 rate
  start_nodes "$k"
  c0=$(nodes_cpu_ticks); n0=$(nginx_cpu_ticks)
  out=$("$BENCH" fanout --port "$NGINX_PORT" --connections "$SUBSCRIBERS" --messages "$MESSAGES" \
          --payload-bytes "$PAYLOAD" --window "$WINDOW")
  c1=$(nodes_cpu_ticks); n1=$(nginx_cpu_ticks)
  echo "$out" | sed "s/^/nodes=$k /"
  echo "nodes=$k server_cpu_seconds=$(awk -v t=$((c1 - c0)) 'BEGIN { printf "%.2f", t / 100 }')" \
       "nginx_cpu_seconds=$(awk -v t=$((n1 - n0)) 'BEGIN { printf "%.2f", t / 100 }')" \
       "load1=$(cut -d' ' -f1 /proc/loadavg)"  # the machine is shared: a loaded round is noise
  rate=$(echo "$out" | sed -n 's/.*deliveries_per_sec=\([0-9]*\).*/\1/p')
  echo "$out" | grep -q "missing=0 in_order=1" || { echo "nodes=$k: deliveries missing or out of order"; exit 1; }
  RATES[$k]="${RATES[$k]:-} $rate"
  stop_nodes
}

# nginx's workers (its master only accepts signals).
nginx_cpu_ticks() {
  local pid total=0
  for pid in $(pgrep -P "$NGINX_PID"); do total=$((total + $(cpu_ticks "$pid"))); done
  echo "$total"
}

declare -A RATES
start_redis "$RPORT"
echo "== fan-out through nginx ($NGINX_WORKERS workers): $SUBSCRIBERS subscribers x $MESSAGES messages," \
     "payload $PAYLOAD bytes, window $WINDOW; 1 node against 2 nodes on one Redis, $RUNS rounds, $(nproc) cores"
for round in $(seq "$RUNS"); do
  if [ $((round % 2)) -eq 1 ]; then order="1 2"; else order="2 1"; fi
  echo "-- round $round (nodes: $order)"
  for k in $order; do run_one "$k"; done
done
echo "== deliveries_per_sec: 1 node:${RATES[1]}; 2 nodes:${RATES[2]}"
awk -v a="${RATES[1]}" -v b="${RATES[2]}" 'BEGIN {
  n = split(a, x, " "); split(b, y, " "); s1 = 0; s2 = 0
  for (i = 1; i <= n; i++) { s1 += x[i]; s2 += y[i]; printf "round %d: 2 nodes / 1 node = %.2f\n", i, y[i] / x[i] }
  printf "mean: 2 nodes / 1 node = %.2f\n", s2 / s1 }'
