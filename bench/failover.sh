#!/usr/bin/env bash
# Time from the death of a Redis master to the first publish accepted again.
#   bench/failover.sh cluster    Redis Cluster (bench/failover_cluster.sh)
cd "$(dirname "$0")/.."
case "${1:-}" in
  cluster) shift; exec bench/failover_cluster.sh "$@" ;;
  *) echo "usage: bench/failover.sh cluster" >&2; exit 2 ;;
esac
