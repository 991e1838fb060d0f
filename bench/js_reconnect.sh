#!/usr/bin/env bash
# rtpush.js reconnect: CLIENTS (1,000) Node.js clients of clients/js/rtpush.js
# in PROCS (2) processes subscribed to one channel of node A, a publisher
# posting over HTTP to node B (same Redis) every PUBLISH_EVERY_MS (10) ms.
# Node A is killed (SIGKILL), stays down DOWN seconds (1), is restarted on
# the same port; prints the time from its restart until every client was
# resubscribed, and messages lost / doubled over all clients (must be 0).
# RUNS (2) rounds. Then the module's size: raw, gzip -9, minified + gzip -9
# (MINIFY: a minifier command reading stdin, default Debian's terser if
# installed). Ports PORT (8100), PORT+1, PORT+2 (Redis).
# Usage: bench/js_reconnect.sh   (from the repository, after building and
# installing to build/stage)
cd "$(dirname "$0")/.."
. bench/lib.sh
PORT=${PORT:-8100}
RUNS=${RUNS:-2}
DOWN=${DOWN:-1}
export CLIENTS=${CLIENTS:-1000} PROCS=${PROCS:-2} PUBLISH_EVERY_MS=${PUBLISH_EVERY_MS:-10}
A=$PORT; B=$((PORT + 1)); RPORT=$((PORT + 2))
now_ms() { date +%s%3N; }

start_redis "$RPORT"
start_node "$B" redis "redis://127.0.0.1:$RPORT" node-id js-b
for run in $(seq "$RUNS"); do
  echo "== round $run"
  start_node "$A" redis "redis://127.0.0.1:$RPORT" node-id js-a
  a_pid=$NODE_PID
  STATE=$(mktemp -d /tmp/rtpush-bench-js.XXXXXX)
  URL="ws://127.0.0.1:$A/" PUBLISH_URL="http://127.0.0.1:$B/publish/bench:js" STATE=$STATE \
    node bench/js_reconnect.mjs &
  driver=$!
  while [ ! -e "$STATE/ready" ]; do
    kill -0 "$driver" 2>/dev/null || { echo "the driver exited"; exit 1; }
    sleep 0.05
  done
  sleep 1
  killed=$(now_ms)
  kill -KILL -- "-$a_pid"
  sleep "$DOWN"
  launched=$(now_ms)
  start_node "$A" redis "redis://127.0.0.1:$RPORT" node-id js-a
  serving=$(now_ms)
  echo "$killed $launched $serving" > "$STATE/restarted"
  wait "$driver"
  rm -rf "$STATE"
  stop_node
  start_node "$B" redis "redis://127.0.0.1:$RPORT" node-id js-b
done

echo "== rtpush.js size (bytes)"
js=clients/js/rtpush.js
echo "raw=$(wc -c < $js) gzip9=$(gzip -9c $js | wc -c)"
# Debian's terser (package terser; for this measurement only, never a
# build or CI dependency) finds its modules under /usr/share/nodejs.
MINIFY=${MINIFY:-$(command -v terser >/dev/null && echo "env NODE_PATH=/usr/share/nodejs terser -c -m --module" || true)}
if [ -n "$MINIFY" ] && min=$($MINIFY < $js) && [ -n "$min" ]; then
  echo "minified=$(printf %s "$min" | wc -c) minified_gzip9=$(printf %s "$min" | gzip -9c | wc -c) minifier=\"$MINIFY\""
else
  echo "minified_gzip9=? (no working minifier: apt-get install terser, or set MINIFY)"
fi
