#!/usr/bin/env bash
# Fan-out of one channel to N subscribers over TLS (wss://, lwsws
# terminating TLS with a self-signed P-256 certificate) against plain ws://,
# same machine, same run, alternating plain and TLS ROUNDS times.
#   bench/tls.sh [SUBSCRIBERS]   default 1000; ROUNDS (3), MESSAGES, PAYLOAD, WINDOW
# The publisher writes each window of publishes at once (rtpush-bench
# --burst, both modes): one TLS record per publish would make the node read
# one publish per pass of its loop, where plain TCP hands it several; BURST=0
# shows that case.
# Target (issue 13): TLS at least 0.7x the plain rate.
cd "$(dirname "$0")/.."
. bench/lib.sh
PORT=${PORT:-7783}
n=${1:-1000}
ROUNDS=${ROUNDS:-3}
m=${MESSAGES:-$((2000000 / n))}
PAYLOAD=${PAYLOAD:-64}
WINDOW=${WINDOW:-64}
BURST=${BURST:-1}
certs=$(mktemp -d /tmp/rtpush-bench-tls.XXXXXX)
trap 'stop_all; rm -rf "$certs"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
  -keyout "$certs/key.pem" -out "$certs/cert.pem" 2>/dev/null

run() {  # run plain|tls: prints the rate line and the server's CPU
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
  if [ $((r % 2)) -eq 1 ]; then run plain; run tls; else run tls; run plain; fi
done
