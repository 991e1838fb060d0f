# Shared by the benchmark scripts: start and stop lwsws nodes (and Redis).
# RTPUSH_PREFIX: the install prefix (default build/stage), LWSWS: the binary.
set -euo pipefail
RTPUSH_PREFIX=${RTPUSH_PREFIX:-$PWD/build/stage}
LWSWS=${LWSWS:-/opt/lwsws/bin/lwsws}
BENCH=$RTPUSH_PREFIX/bin/rtpush-bench
PUBLISH=$RTPUSH_PREFIX/bin/rtpush-publish
[ -x "$BENCH" ] || { echo "no $BENCH: build and install first (cmake --install build --prefix build/stage)"; exit 1; }

NODE_PIDS=()
NODE_DIRS=()
NODE_PID=   # the last node started
REDIS_PID=
REDIS_DIR=

# start_node PORT [OPTION VALUE]...: lwsws with the rtpush plugins on PORT.
# NODE_TLS=DIR: the vhost serves TLS with DIR/cert.pem and DIR/key.pem.
start_node() {
  local port=$1; shift
  # receive-bytes-per-sec at its top: a benchmark's one publisher connection
  # carries the whole load, far past the 1 MiB/s a client gets by default.
  local opts='"history-size":"1000","receive-bytes-per-sec":"1099511627776"' k v dir tls_global= tls_vhost= scheme=http
  while [ $# -gt 0 ]; do k=$1; v=$2; shift 2; opts="$opts,\"$k\":\"$v\""; done
  if [ -n "${NODE_TLS:-}" ]; then
    tls_global=',"init-ssl":"yes"'
    tls_vhost="\"host-ssl-cert\":\"$NODE_TLS/cert.pem\",\"host-ssl-key\":\"$NODE_TLS/key.pem\","
    scheme=https
  fi
  dir=$(mktemp -d /tmp/rtpush-bench.XXXXXX)
  mkdir -p "$dir/conf.d"
  cat > "$dir/conf" <<JSON
{"global":{"server-string":"rtpush","plugin-dir":"$RTPUSH_PREFIX/lib/rtpush/plugins","count-threads":"1","rlimit-nofile":"20000","max-http-header-pool":"256"$tls_global}}
JSON
  cat > "$dir/conf.d/rtpush" <<JSON
{"vhosts":[{"name":"rtpush","port":"$port","interface":"127.0.0.1",$tls_vhost
 "mounts":[{"mountpoint":"/","origin":"callback://rtpush"}],
 "ws-protocols":[{"rtpush":{$opts}},{"rtpush-json":{"default":"1"}},{"rtpush-msgpack":{}},{"rtpush-protobuf":{}}]}]}
JSON
  NODE_DIRS+=("$dir")
  run_node "$dir" "$scheme://127.0.0.1:$port"
}

# run_node DIR URL: lwsws -c DIR in its own process group (stop_node stops
# it), logging to DIR/log; returns once URL/health answers.
run_node() {
  setsid "$LWSWS" -c "$1" -d 3 >"$1/log" 2>&1 &
  NODE_PID=$!
  disown "$NODE_PID"
  NODE_PIDS+=("$NODE_PID")
  for _ in $(seq 100); do
    curl -skf "$2/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "lwsws did not start:"; cat "$1/log"; exit 1
}

# start_redis PORT: a redis-server of our own, no persistence.
start_redis() {
  REDIS_DIR=$(mktemp -d /tmp/rtpush-bench-redis.XXXXXX)
  setsid redis-server --port "$1" --bind 127.0.0.1 --dir "$REDIS_DIR" --save "" --appendonly no >"$REDIS_DIR/log" 2>&1 &
  REDIS_PID=$!
  disown "$REDIS_PID"  # no job notice when it is killed
  for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "redis-server did not start"; exit 1
}

# start_postgres PORT: PostgreSQL 15 in a temporary data directory (as the
# postgres user when root: the server refuses root). Sets PG_CONNINFO.
PG_DIR=
PG_PID=
start_postgres() {
  local bin=/usr/lib/postgresql/15/bin as=()
  PG_DIR=$(mktemp -d /tmp/rtpush-bench-pg.XXXXXX)
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$PG_DIR"; as=(runuser -u postgres --); fi
  "${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  setsid "${as[@]}" "$bin/postgres" -D "$PG_DIR/data" ${PG_EXTRA:-} -p "$1" -h 127.0.0.1 -k "$PG_DIR" >"$PG_DIR/log" 2>&1 &
  PG_PID=$!
  disown "$PG_PID"
  for _ in $(seq 100); do "$bin/pg_isready" -h 127.0.0.1 -p "$1" >/dev/null 2>&1 && break; sleep 0.1; done
  PG_CONNINFO="host=127.0.0.1 port=$1 user=postgres dbname=postgres"
}

# The serving child of the last node (lwsws forks; the first process watches).
serving_pid() { pgrep -P "${1:-$NODE_PID}" | head -n1; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

stop_node() {
  local pid
  for pid in "${NODE_PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${NODE_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  [ ${#NODE_DIRS[@]} -eq 0 ] || rm -rf "${NODE_DIRS[@]}"
  NODE_PIDS=(); NODE_DIRS=(); NODE_PID=
}

stop_all() {
  stop_node
  if [ -n "$PG_PID" ]; then kill -INT -- "-$PG_PID" 2>/dev/null || true; sleep 1; rm -rf "$PG_DIR"; PG_PID=; fi
  if [ -n "$REDIS_PID" ]; then kill -KILL "$REDIS_PID" 2>/dev/null || true; rm -rf "$REDIS_DIR"; REDIS_PID=; fi
}
trap stop_all EXIT
