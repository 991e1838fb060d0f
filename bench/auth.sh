#!/usr/bin/env bash
# The cost of a token at the handshake: N clients connect (rtpush-bench idle)
# with `?token=` (HS256, one node with jwt-secret-file) and without, on the
# same node, alternating, RUNS times each. Target: with / without <= 1.2.
# Then the verifier's own cost per token (build/tests/unit/test_token prints
# it), when that binary is built.
#   bench/auth.sh [N]   default 10000; RUNS (3) from the environment
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-10000}
RUNS=${RUNS:-3}
PORT=${PORT:-7787}
SECRET=bench-secret-$$

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# An HS256 JWT for user "bench", valid for an hour.
mint() {
  local head body sig
  head=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
  body=$(printf '{"sub":"bench","exp":%d}' $(($(date +%s) + 3600)) | b64url)
  sig=$(printf '%s.%s' "$head" "$body" | openssl dgst -sha256 -hmac "$SECRET" -binary | b64url)
  printf '%s.%s.%s' "$head" "$body" "$sig"
}

secret_file=$(mktemp /tmp/rtpush-bench-secret.XXXXXX)
printf '%s\n' "$SECRET" > "$secret_file"
TOKEN=$(mint)
start_node "$PORT" jwt-secret-file "$secret_file"

connections() { curl -s "http://127.0.0.1:$PORT/health" | sed 's/.*"connections":\([0-9]*\).*/\1/'; }
# one_run [--token T]: prints the seconds to connect N clients.
one_run() {
  local out
  out=$("$BENCH" idle --port "$PORT" --connections "$N" "$@")
  echo "$out" >&2
  # wait until the server has let the previous clients go
  for _ in $(seq 100); do [ "$(connections)" = 0 ] && break; sleep 0.1; done
  echo "$out" | sed -n 's/.*connected='"$N"' failed=0 seconds=\([0-9.]*\).*/\1/p'
}

plain=() tokened=()
for run in $(seq "$RUNS"); do
  p=$(one_run); t=$(one_run --token "$TOKEN")
  [ -n "$p" ] && [ -n "$t" ] || { echo "a run did not connect every client"; tail -5 "${NODE_DIRS[0]}/log"; exit 1; }
  plain+=("$p"); tokened+=("$t")
  awk -v p="$p" -v t="$t" -v r="$run" -v n="$N" \
    'BEGIN { printf "run=%d clients=%d without_token_ms=%.1f with_token_ms=%.1f ratio=%.3f\n", r, n, p * 1000, t * 1000, t / p }'
done
printf '%s\n' "${plain[@]}" > /tmp/rtpush-auth-plain.$$
printf '%s\n' "${tokened[@]}" > /tmp/rtpush-auth-token.$$
paste /tmp/rtpush-auth-plain.$$ /tmp/rtpush-auth-token.$$ |
  awk '{ p += $1; t += $2; n++ } END { printf "mean without_token_ms=%.1f with_token_ms=%.1f ratio=%.3f (target <= 1.2)\n", p / n * 1000, t / n * 1000, t / p }'
rm -f /tmp/rtpush-auth-plain.$$ /tmp/rtpush-auth-token.$$
# The node really checks tokens: a bad one must not connect.
if "$BENCH" idle --port "$PORT" --connections 1 --token "${TOKEN}AAAA" 2>&1 | grep -q 'connected=1 '; then
  echo "warning: a token with a bad signature connected: the node does not verify tokens (no jwt-secret-file support?)"
fi
stop_node
rm -f "$secret_file"

UNIT=${UNIT_TEST_TOKEN:-build/tests/unit/test_token}
if [ -x "$UNIT" ]; then
  "$UNIT" 2>/dev/null | grep '^token verify' | sed 's/^token verify \([A-Z0-9]*\): \([0-9.]*\) us per token.*/alg=\1 us_per_token=\2/'
else
  echo "no $UNIT: build the unit tests for the per-token cost"
fi
