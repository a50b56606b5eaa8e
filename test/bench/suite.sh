#!/usr/bin/env bash
# The benchmarks in order, inside bench.sh's cluster (SMOKE=1: tiny sizes).
# Prints "bench: N passed, M failed" at the end: a benchmark fails when its
# script breaks or its run ends inconsistent (oversold, verify() rows,
# memory growth), never because it was slow.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export LC_ALL=C
passed=0
failed=0
step() {			# name command...
	local name=$1
	shift
	echo
	echo "######## $name"
	if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "######## $name: FAILED"; fi
}
# reports() and verify_at(), the steps at 1,000,000 orders
# shellcheck source=at_scale.sh
. "$here/at_scale.sh"

if [ "${SMOKE:-0}" = 1 ]; then
	export BENCH_SECONDS=${BENCH_SECONDS:-2} BENCH_RUNS=${BENCH_RUNS:-1} BENCH_WARMUP=${BENCH_WARMUP:-0}
	export BENCH_CLIENTS=${BENCH_CLIENTS:-8} BENCH_DISTS=${BENCH_DISTS:-uniform zipfian hot}
	export BENCH_HOT_K=${BENCH_HOT_K-1 16} BENCH_HOT_CLIENTS=${BENCH_HOT_CLIENTS:-8}
	step checkout bash "$here/checkout.sh"
	step wal bash "$here/wal.sh" 200
	step sellout bash "$here/sellout.sh" 500 2000 16 4
	step sellout_auto bash "$here/sellout.sh" 500 2000 16 auto
	step run_due bash "$here/run_due.sh" 2000 2 2
	step reports reports 5000
	step verify verify_at 5000
	step memory bash "$here/memory.sh" 3000
	# issue 21's decision run: what the steps above leave out (the minimal
	# floor, the sweepers alone, the hot SKU left to the defaults) and its table
	step lean env LEAN_STEPS="checkout run_due hot" LEAN_DUE_CLIENTS=0 bash "$here/lean.sh" --smoke
else
	step checkout bash "$here/checkout.sh"
	step wal bash "$here/wal.sh" 2000
	step sellout bash "$here/sellout.sh" 10000 100000 32 16
	step sellout_auto bash "$here/sellout.sh" 10000 100000 32 auto
	step run_due bash "$here/run_due.sh" 100000 2 4
	step reports reports 1000000
	step verify verify_at 1000000
	step memory bash "$here/memory.sh" 1000000
fi
echo
echo "bench: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
