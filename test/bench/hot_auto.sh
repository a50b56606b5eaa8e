#!/usr/bin/env bash
# A hot SKU spreads itself (issue 21): the hot-SKU matrix of checkout.sh
# with the SKU left to the shop's defaults (K = auto: no stock_buckets,
# balance_buckets() called every second, as the sweeper does, with
# BENCH_AUTO_RAMP seconds of checkouts before each measured run), against
# one row (K = 1) and 16 buckets set by hand, at 8 and 32 clients.  The
# goal: K = auto at 32 clients >= 3x K = 1.  Run on a quiet machine,
# against the server in the PG* environment, as a non-root user, e.g. with
# the cluster settings of bench.sh:
#   pg_virtualenv -o shared_buffers=2GB -o max_connections=200 bash test/bench/hot_auto.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export BENCH_SYNC= BENCH_VARIANTS=om BENCH_DISTS=hot
export BENCH_HOT_K=${BENCH_HOT_K:-1 16 auto}
export BENCH_HOT_CLIENTS=${BENCH_HOT_CLIENTS:-8 32}
export BENCH_WARMUP=0
exec bash "$here/checkout.sh"
