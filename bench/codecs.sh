#!/usr/bin/env bash
# Codec cost (decode a publish + encode a message, ns per message, each
# encoding) and the hub's fan-out to 10,000 subscribers, all JSON against a
# third in each encoding. In-process: no sockets.   bench/codecs.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target rtpush-codec-bench >/dev/null
build/bench/rtpush-codec-bench "${1:-1000000}"
