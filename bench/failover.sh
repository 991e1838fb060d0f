#!/usr/bin/env bash
# Redis failovers: time from the master's SIGKILL to the first publish a
# node accepts again, and what redis-wait-replicas costs a publish.
#   bench/failover.sh sentinel   one master, two replicas, three sentinels
#                                (down-after-milliseconds DOWN_AFTER_MS, 1000;
#                                failover-timeout 3000), one node; RUNS (3)
#                                kills, then sequential HTTP publishes with
#                                redis-wait-replicas 0 and 1, same run
#                                (servers from the tests' harness,
#                                tests/integration/rtpush_harness, each on a
#                                free port, all stopped at the end)
#   bench/failover.sh cluster    three masters with a replica each
#                                (cluster-node-timeout NODE_TIMEOUT, 1000 ms),
#                                one node; RUNS (3) kills of the master of a
#                                channel published every 5 ms
#                                (bench/failover_cluster.sh)
cd "$(dirname "$0")/.."
set -euo pipefail
export RTPUSH_PREFIX=${RTPUSH_PREFIX:-$PWD/build/stage}
export LWSWS=${LWSWS:-/opt/lwsws/bin/lwsws}
case "${1:-sentinel}" in
  sentinel) exec /usr/bin/python3 bench/failover_sentinel.py ;;
  cluster) shift; exec bench/failover_cluster.sh "$@" ;;
  *) echo "usage: bench/failover.sh sentinel|cluster"; exit 2 ;;
esac
