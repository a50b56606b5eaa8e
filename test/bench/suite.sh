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
reports() {			# orders
	local db=order_mgmt_reports times
	times=$(mktemp)
	dropdb --if-exists "$db" >/dev/null && createdb "$db" || return 1
	psql -X -q -v ON_ERROR_STOP=1 -v orders="$1" -d "$db" -f "$here/gen_orders.sql" >/dev/null || return 1
	for i in 1 2 3; do
		psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$here/reports.sql" | grep '^Time:' || return 1
	done >"$times"
	# the median of the three times of each report, in report order
	awk '{t[NR] = $2} END {
		split("daily_breakdown lost_orders cancel_reasons followups recovery variant_mix stuck cancellations", n, " ")
		if (NR != 24) { print "reports: " NR " of 24 timings"; exit 1 }
		for (r = 1; r <= 8; r++) {
			a = t[r]; b = t[r + 8]; c = t[r + 16]
			m = (a <= b && b <= c) || (c <= b && b <= a) ? b : (b <= a && a <= c) || (c <= a && a <= b) ? a : c
			printf "   %-16s %8.1f ms (median of 3)\n", n[r], m
		}
	}' "$times"
	local rc=$?
	rm -f "$times"
	return $rc
}
verify_at() {		# orders
	local db=order_mgmt_verify out
	out=$(mktemp)
	dropdb --if-exists "$db" >/dev/null && createdb "$db" || return 1
	psql -X -q -v ON_ERROR_STOP=1 -v orders="$1" -d "$db" -f "$here/gen_orders.sql" >/dev/null || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$here/gen_ledgers.sql" >/dev/null || return 1
	for i in 1 2 3; do
		psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -d "$db" -f "$here/verify.sql" || return 1
	done >"$out"
	# each call's rows must be 0; its time is the median of its three runs
	local rc=0 what rows t
	for what in all shop1; do
		rows=$(awk -v w="$what" '$1 == w {s += $2} END {print s + 0}' "$out")
		t=$(awk -v w="$what" '$1 == w {getline; print $2}' "$out" | sort -n | sed -n 2p)
		printf "   %-16s %8.1f ms (median of 3), %s rows\n" \
			"$([ "$what" = all ] && echo 'verify()' || echo 'verify(1)')" "$t" "$rows"
		[ "$rows" -eq 0 ] || rc=1
	done
	[ "$rc" -eq 0 ] || psql -X -d "$db" -c "SELECT * FROM order_mgmt.verify() LIMIT 20"
	rm -f "$out"
	return $rc
}

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
