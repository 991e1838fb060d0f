#!/usr/bin/env bash
# permessage-deflate: bytes on the wire and server CPU per delivery of a
# 1 KB JSON message fanned out to N subscribers (default 1,000), rtpush
# with `compression` on (clients offering the extension) against off
# (clients not offering it), and Nchan 1.3.6 the same two ways
# (`nchan_deflate_message_for_websocket on`, from a variant of the shared
# peer's configuration made in a temporary directory), same run,
# alternating, RUNS (2) rounds. The client is bench/ws_wire.py.
#   PEERS=DIR bench/compression.sh [N]   DIR holds the peer's nchan/conf/ (Nchan is skipped without it);
#   MESSAGES (300), PAYLOAD (1024), RUNS (2)
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-1000}
MESSAGES=${MESSAGES:-300}
PAYLOAD=${PAYLOAD:-1024}
RUNS=${RUNS:-2}
PORT=${PORT:-7789}
NCHAN_PORT=${NCHAN_PORT:-8093}   # not the peer's 8090: other benchmarks may run it
PEERS=${PEERS:-}
WIRE=(/usr/bin/python3 bench/ws_wire.py --connections "$N" --messages "$MESSAGES" --payload-bytes "$PAYLOAD")

rtpush_run() {  # on|off
  start_node "$PORT" compression "$1"
  local flag=()
  [ "$1" = on ] && flag=(--deflate)
  echo "== rtpush compression=$1, $N subscribers x $MESSAGES messages"
  "${WIRE[@]}" --port "$PORT" --subprotocol rtpush-json --subscribe '{"type":"subscribe","channel":"z"}' \
    --ready subscribed --publish /publish/z --pids "$(serving_pid)" "${flag[@]}"
  stop_node
}

NCHAN_DIR=
nchan_conf() {  # on|off: a copy of the peer's mem configuration on NCHAN_PORT
  local dir=$NCHAN_DIR/$1
  mkdir -p "$dir/logs" "$dir/tmp"
  sed "s#include nchan-server.inc;#include $dir/server.inc;#" "$PEERS/nchan/conf/nginx-mem.conf" > "$dir/nginx.conf"
  sed "s#listen 127.0.0.1:8090#listen 127.0.0.1:$NCHAN_PORT#" "$PEERS/nchan/conf/nchan-server.inc" > "$dir/server.inc"
  if [ "$1" = on ]; then
    # Nchan keeps a deflated copy of each message for websocket clients
    # that negotiated permessage-deflate (server-wide here).
    sed -i "s#server_name localhost;#server_name localhost;\n    nchan_deflate_message_for_websocket on;#" "$dir/server.inc"
  fi
  echo "$dir"
}
nchan_run() {  # on|off
  local dir master workers flag=()
  dir=$(nchan_conf "$1")
  nginx -q -p "$dir/" -e logs/error.log -c "$dir/nginx.conf"
  for _ in $(seq 50); do [ -s "$dir/logs/nginx.pid" ] && curl -fs "http://127.0.0.1:$NCHAN_PORT/nchan_status" >/dev/null && break; sleep 0.1; done
  master=$(cat "$dir/logs/nginx.pid")
  workers=$(pgrep -P "$master" | paste -sd, -)
  [ "$1" = on ] && flag=(--deflate)
  echo "== nchan deflate=$1, $N subscribers x $MESSAGES messages (workers $workers)"
  "${WIRE[@]}" --port "$NCHAN_PORT" --path /sub/z --publish /pub/z --pids "$workers" "${flag[@]}" || true
  kill -QUIT "$master"
  for _ in $(seq 50); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
}

NCHAN=1
if [ -z "$PEERS" ] || ! [ -f "$PEERS/nchan/conf/nginx-mem.conf" ]; then
  echo "no PEERS/nchan/conf: Nchan skipped"; NCHAN=0
elif ! [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
  echo "no Nchan module (Debian's libnginx-mod-nchan): Nchan skipped"; NCHAN=0
fi
NCHAN_DIR=$(mktemp -d /tmp/rtpush-bench-nchan.XXXXXX)
trap 'stop_all; rm -rf "$NCHAN_DIR"' EXIT
for r in $(seq "$RUNS"); do
  echo "#### round $r"
  rtpush_run off
  rtpush_run on
  if [ "$NCHAN" = 1 ]; then
    nchan_run off
    nchan_run on
  fi
done
