#!/usr/bin/env bash
# Fan-out of one channel to N subscribers over TLS (wss://) against plain
# ws://, rtpush (lwsws terminating TLS) and Nchan 1.3.6 (nginx terminating
# TLS), same machine, same run, alternating, ROUNDS times, in two shapes:
#   windowed        WINDOW (64) messages in flight, published by PUBLISHERS (8)
#                   concurrent HTTP clients (one keeps one publish in flight)
#   one at a time   each message reaches every subscriber before the next
# All four servers are driven by the same meter, bench/wsfan_tls.c (the
# peers' wsfan.c with TLS and a window): subscribers over WebSocket,
# messages published over keep-alive HTTP(S) (rtpush /publish/CH, Nchan
# /pub/CH), the publisher speaking TLS when the subscribers do. Each run
# prints deliveries/s and the server's CPU per delivery from the first
# publish to the last delivery (rtpush: its serving lwsws process; Nchan:
# both nginx workers), and the meter's own (it shares the cores).
#   PEERS=DIR bench/tls.sh [SUBSCRIBERS]   default 1000; DIR holds the peers' nchan/conf/ (Nchan
#                                          is skipped without it); ROUNDS (2), MESSAGES (windowed,
#                                          2000), MESSAGES1 (one at a time, 300), PAYLOAD (64), WINDOW (64),
#                                          PUBLISHERS (8)
#   METER=rtpush-bench bench/tls.sh [N]    rtpush only, with rtpush-bench fanout (a WebSocket
#                                          publisher, --burst): the earlier figures' shape
# Both the rtpush and Nchan certificates: one self-signed P-256 made here.
# Target (issue 13): rtpush TLS at least 0.7x the plain rate.
cd "$(dirname "$0")/.."
. bench/lib.sh
PORT=${PORT:-7783}
NCHAN_PORT=${NCHAN_PORT:-8094}        # plain; not the peer's 8090 nor compression.sh's 8093
NCHAN_TLS_PORT=${NCHAN_TLS_PORT:-8443}
n=${1:-1000}
ROUNDS=${ROUNDS:-2}
PAYLOAD=${PAYLOAD:-64}
WINDOW=${WINDOW:-64}
PEERS=${PEERS:-}
WSFAN=${WSFAN:-build/bench/wsfan_tls}
certs=$(mktemp -d /tmp/rtpush-bench-tls.XXXXXX)
trap 'stop_all; rm -rf "$certs"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
  -keyout "$certs/key.pem" -out "$certs/cert.pem" 2>/dev/null

if [ "${METER:-}" = rtpush-bench ]; then
  # rtpush-bench: the publisher is a WebSocket client keeping WINDOW
  # publishes unanswered, each window written at once (--burst; BURST=0:
  # one TLS record per publish, so one publish read per pass of lws's loop).
  m=${MESSAGES:-$((2000000 / n))}
  BURST=${BURST:-1}
  bench_run() {  # plain|tls
    local mode=$1 flag=() pid c0 c1
    [ "$BURST" = 0 ] || flag=(--burst)
    if [ "$mode" = tls ]; then NODE_TLS=$certs start_node "$PORT"; flag+=(--tls); else NODE_TLS= start_node "$PORT"; fi
    pid=$(serving_pid)
    c0=$(cpu_ticks "$pid")
    echo "== $mode: $n subscribers x $m messages, payload $PAYLOAD bytes, window $WINDOW, burst $BURST"
    "$BENCH" fanout --port "$PORT" --connections "$n" --messages "$m" --payload-bytes "$PAYLOAD" --window "$WINDOW" \
      "${flag[@]}"
    c1=$(cpu_ticks "$pid")
    echo "server_cpu_seconds=$(awk -v t=$((c1 - c0)) 'BEGIN { printf "%.2f", t / 100 }')"
    stop_node
  }
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then bench_run plain; bench_run tls; else bench_run tls; bench_run plain; fi
  done
  exit 0
fi

[ -x "$WSFAN" ] || cmake --build build --target wsfan_tls >/dev/null
NCHAN=1
if [ -z "$PEERS" ] || ! [ -f "$PEERS/nchan/conf/nginx-mem.conf" ]; then
  echo "no PEERS/nchan/conf: Nchan skipped"; NCHAN=0
elif ! [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
  echo "no Nchan module (Debian's libnginx-mod-nchan): Nchan skipped"; NCHAN=0
fi

# meter PORT TLS(0|1) MESSAGES WINDOW PIDS WSFAN-ARGS...: one measured run.
meter() {
  local port=$1 tls=$2 msgs=$3 win=$4 pids=$5 flag=(); shift 5
  [ "$tls" = 1 ] && flag+=(-S)
  [ "$win" -gt 0 ] && flag+=(-W "$win")
  [ "$win" -gt 1 ] && flag+=(-c "${PUBLISHERS:-8}")
  "$WSFAN" -p "$port" -n "$n" -m "$msgs" -b "$PAYLOAD" -t 300 -C "$pids" "${flag[@]}" "$@" 2>&1 || true
}

rtpush_run() {  # plain|tls MESSAGES WINDOW
  local tls=0
  if [ "$1" = tls ]; then NODE_TLS=$certs start_node "$PORT"; tls=1; else NODE_TLS= start_node "$PORT"; fi
  echo "== rtpush $1: $n subscribers x $2 messages, payload $PAYLOAD, window $3"
  meter "$PORT" "$tls" "$2" "$3" "$(serving_pid)" -u / -P rtpush-json -s '{"type":"subscribe","channel":"t"}' \
    -w subscribed -U /publish/t
  stop_node
}

# A copy of the peer's mem configuration, plain on NCHAN_PORT or TLS on
# NCHAN_TLS_PORT with our certificate (the shared files are not touched).
NCHAN_DIR=$(mktemp -d /tmp/rtpush-bench-nchan-tls.XXXXXX)
trap 'stop_all; rm -rf "$certs" "$NCHAN_DIR"' EXIT
nchan_conf() {  # plain|tls: prints the directory
  local dir=$NCHAN_DIR/$1 listen="listen 127.0.0.1:$NCHAN_PORT"
  [ "$1" = tls ] && listen="listen 127.0.0.1:$NCHAN_TLS_PORT ssl;\n    ssl_certificate $certs/cert.pem;\n    ssl_certificate_key $certs/key.pem;\n    ssl_protocols TLSv1.2 TLSv1.3"
  mkdir -p "$dir/logs" "$dir/tmp"
  sed "s#include nchan-server.inc;#include $dir/server.inc;#" "$PEERS/nchan/conf/nginx-mem.conf" > "$dir/nginx.conf"
  sed "s#listen 127.0.0.1:8090 default_server#$listen#" "$PEERS/nchan/conf/nchan-server.inc" > "$dir/server.inc"
  echo "$dir"
}
nchan_run() {  # plain|tls MESSAGES WINDOW
  local dir master workers port=$NCHAN_PORT tls=0 scheme=http
  [ "$1" = tls ] && { port=$NCHAN_TLS_PORT; tls=1; scheme=https; }
  dir=$(nchan_conf "$1")
  nginx -q -p "$dir/" -e logs/error.log -c "$dir/nginx.conf"
  for _ in $(seq 50); do [ -s "$dir/logs/nginx.pid" ] && curl -kfs "$scheme://127.0.0.1:$port/nchan_status" >/dev/null && break; sleep 0.1; done
  master=$(cat "$dir/logs/nginx.pid")
  workers=$(pgrep -P "$master" | paste -sd, -)
  echo "== nchan $1: $n subscribers x $2 messages, payload $PAYLOAD, window $3 (workers $workers)"
  meter "$port" "$tls" "$2" "$3" "$workers" -u /sub/t -U /pub/t
  kill -QUIT "$master"
  for _ in $(seq 50); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
}

shape() {  # MESSAGES WINDOW: ROUNDS rounds of the four, the order turned each round
  local runs=("rtpush_run tls" "rtpush_run plain") r i
  [ "$NCHAN" = 1 ] && runs+=("nchan_run tls" "nchan_run plain")
  for r in $(seq "$ROUNDS"); do
    echo "#### round $r"
    if [ $((r % 2)) -eq 1 ]; then
      for i in "${runs[@]}"; do $i "$1" "$2"; done
    else
      for ((i = ${#runs[@]} - 1; i >= 0; i--)); do ${runs[$i]} "$1" "$2"; done
    fi
  done
}

echo "######## windowed: $WINDOW messages in flight"
shape "${MESSAGES:-2000}" "$WINDOW"
echo "######## one at a time"
shape "${MESSAGES1:-300}" 1
