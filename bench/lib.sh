# Shared by the benchmark scripts: start and stop one lwsws node.
# RTPUSH_PREFIX: the install prefix (default build/stage), LWSWS: the binary.
set -euo pipefail
RTPUSH_PREFIX=${RTPUSH_PREFIX:-$PWD/build/stage}
LWSWS=${LWSWS:-/opt/lwsws/bin/lwsws}
BENCH=$RTPUSH_PREFIX/bin/rtpush-bench
[ -x "$BENCH" ] || { echo "no $BENCH: build and install first (cmake --install build --prefix build/stage)"; exit 1; }

NODE_DIR=
NODE_PID=

# start_node PORT [OPTION VALUE]...: lwsws with the rtpush plugins on PORT.
start_node() {
  local port=$1; shift
  local opts='"history-size":"1000"' k v
  while [ $# -gt 0 ]; do k=$1; v=$2; shift 2; opts="$opts,\"$k\":\"$v\""; done
  NODE_DIR=$(mktemp -d /tmp/rtpush-bench.XXXXXX)
  mkdir -p "$NODE_DIR/conf.d"
  cat > "$NODE_DIR/conf" <<JSON
{"global":{"server-string":"rtpush","plugin-dir":"$RTPUSH_PREFIX/lib/rtpush/plugins","count-threads":"1","rlimit-nofile":"20000"}}
JSON
  cat > "$NODE_DIR/conf.d/rtpush" <<JSON
{"vhosts":[{"name":"rtpush","port":"$port","interface":"127.0.0.1",
 "mounts":[{"mountpoint":"/","origin":"callback://rtpush"}],
 "ws-protocols":[{"rtpush":{$opts}},{"rtpush-json":{"default":"1"}}]}]}
JSON
  setsid "$LWSWS" -c "$NODE_DIR" -d 3 >"$NODE_DIR/log" 2>&1 &
  NODE_PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "lwsws did not start:"; cat "$NODE_DIR/log"; exit 1
}

# The serving child (lwsws forks; the process we started only watches).
serving_pid() { pgrep -P "$NODE_PID" | head -n1; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

stop_node() {
  [ -n "$NODE_PID" ] || return 0
  kill -TERM -- "-$NODE_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$NODE_PID" 2>/dev/null || true
  rm -rf "$NODE_DIR"
  NODE_PID=
}
trap stop_node EXIT
