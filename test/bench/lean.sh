#!/usr/bin/env bash
# Issue 21's decision run (lean writes), "make bench-lean": every figure the
# issue's goals name, side by side in one run, and one table "issue 21
# goals" (goal, target, measured, met) at the end.  In this order:
#   wal       wal.sh 2000: WAL per one-line checkout against the minimal floor
#             (and the needed floor: with the indexes the contract needs)
#   checkout  checkout.sh, variants minimal, needed and om, uniform SKUs, 8 and 32
#             clients, synchronous_commit on, BENCH_RUNS=2 of 20 s
#   run_due   run_due.sh 100000 with 2 sweepers: alone (0 clients), then
#             with 4 checkout clients beside; then the sweep floor alone
#             (run_due.sh's variant floor: run_due()'s writes by one plain
#             SQL statement per batch, order_mgmt's triggers off)
#   hot       hot_auto.sh when it is there: the hot SKU with the shop's
#             defaults (K = auto), on one row (K = 1) and on 16 set by
#             hand, 32 clients; beside it the checkout step's om at 32
#             clients without a hot SKU, the most spreading can reach
#   reports   every report over 1,000,000 orders (at_scale.sh), and the
#             floors of the five biggest (reports_floor.sql)
#   verify    verify() over the same data made consistent (at_scale.sh)
# As root (what make bench-lean does): builds and installs this tree
# (test/setup.sh, as make bench), starts a throwaway cluster as user
# postgres with fsync=on shared_buffers=512MB and otherwise PostgreSQL's
# defaults (checkpoints and full-page writes happen as on a real server),
# and runs itself inside it.  As another user it runs against the server
# in the PG* environment.  About 15-18 minutes on 2 cores (when run_due
# sweeps in linear time; see docs/performance.md).  The table is also
# written to goals.md beside the logs.
#   test/bench/lean.sh [--smoke]
# --smoke: tiny sizes (seconds), for CI; it checks that every step runs
# and ends consistent (verify() empty, nothing oversold), never speed.
# A step fails when its script breaks or its run ends inconsistent, never
# because it was slow; the exit status is 1 when a step failed.
# Knobs (environment; defaults for the full run, then for --smoke):
#   BENCH_SECONDS=20|2 BENCH_RUNS=2|1 BENCH_WARMUP=5|0   checkout and hot
#   LEAN_STEPS="wal checkout run_due hot reports verify"  the steps to run
#   LEAN_WAL=2000|200        checkouts measured by wal.sh
#   LEAN_DUE=100000|2000     overdue orders run_due.sh sweeps
#   LEAN_DUE_CLIENTS="0 4"   checkout clients beside the sweepers, per run
#   LEAN_DUE_FLOOR=floor     run_due.sh's floor variants to run alone after
#                            them ("" for none; also floor0, floor2)
#   LEAN_ORDERS=1000000|5000 orders of shop 1 for reports and verify
#   LEAN_HOT_K="1 16 auto" LEAN_HOT_CLIENTS=32   the hot SKU's matrix
#   LEAN_SETUP=0             as root: skip test/setup.sh (this tree is
#                            installed already)
#   LEAN_OUT=dir             where the logs, raw results and goals.md go
#                            (default: a new /tmp/om-lean.XXXXXX, kept)
set -uo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
smoke=0
case "${1:-}" in
	"") ;;
	--smoke) smoke=1 ;;
	*)
		echo "usage: test/bench/lean.sh [--smoke]" >&2
		exit 2
		;;
esac

# ---------------------------------------------------------------- as root
if [ "$(id -u)" -eq 0 ]; then
	top=$(cd "$here/../.." && pwd)
	if [ "${LEAN_SETUP:-1}" != 0 ]; then
		bash "$top/test/setup.sh" || { echo "lean: set-up failed"; exit 1; }
	fi
	work=$(mktemp -d /tmp/order_mgmt-lean.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	cp -r "$top/test" "$work/"
	chown -R postgres: "$work"
	echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo)," \
		"$(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release), $(uname -r), load $(cut -d ' ' -f 1-3 /proc/loadavg)"
	echo "== cluster: PostgreSQL 15 (pg_virtualenv), fsync=on shared_buffers=512MB, otherwise the defaults"
	envs=()
	for v in ${!BENCH_@} ${!LEAN_@}; do envs+=("$v=${!v}"); done
	args=()
	[ "$smoke" = 1 ] && args=(--smoke)
	runuser -u postgres -- env "${envs[@]}" pg_virtualenv -o fsync=on -o shared_buffers=512MB \
		bash "$work/test/bench/lean.sh" "${args[@]}"
	exit
fi

# ---------------------------------------------------------------- the run
if [ "$smoke" = 1 ]; then
	export BENCH_SECONDS=${BENCH_SECONDS:-2} BENCH_RUNS=${BENCH_RUNS:-1} BENCH_WARMUP=${BENCH_WARMUP:-0}
	export BENCH_AUTO_RAMP=${BENCH_AUTO_RAMP:-1}
	wal_n=${LEAN_WAL:-200} due=${LEAN_DUE:-2000} orders=${LEAN_ORDERS:-5000}
else
	export BENCH_SECONDS=${BENCH_SECONDS:-20} BENCH_RUNS=${BENCH_RUNS:-2} BENCH_WARMUP=${BENCH_WARMUP:-5}
	wal_n=${LEAN_WAL:-2000} due=${LEAN_DUE:-100000} orders=${LEAN_ORDERS:-1000000}
fi
steps=${LEAN_STEPS:-wal checkout run_due hot reports verify}
due_clients=${LEAN_DUE_CLIENTS:-0 4}
due_floor=${LEAN_DUE_FLOOR-floor}
hot_k=${LEAN_HOT_K:-1 16 auto}
hot_clients=${LEAN_HOT_CLIENTS:-32}
out=${LEAN_OUT:-$(mktemp -d /tmp/om-lean.XXXXXX)}
mkdir -p "$out"
# shellcheck source=at_scale.sh
. "$here/at_scale.sh"

psql -X -At -c "SELECT 'server ' || current_setting('server_version') || ', fsync ' || current_setting('fsync')
	|| ', shared_buffers ' || current_setting('shared_buffers') || ', max_wal_size ' || current_setting('max_wal_size')
	|| ', checkpoint_timeout ' || current_setting('checkpoint_timeout') || ', full_page_writes '
	|| current_setting('full_page_writes')" postgres
[ "$smoke" = 1 ] && echo "== smoke: tiny sizes, the figures mean nothing; only consistency is checked"

passed=0
failed=0
failures=
t0=$(date +%s)
step() {			# name log command...: runs it, its output to the terminal and the log
	local name=$1 log=$out/$2.log s rc
	shift 2
	echo
	echo "######## lean: $name"
	s=$(date +%s)
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures${failures:+, }$name"
		echo "######## lean: $name: FAILED"
	fi
	echo "######## lean: $name: $(($(date +%s) - s)) s"
	return "$rc"
}
want() { case " $steps " in *" $1 "*) return 0 ;; esac; return 1; }

want wal && step wal wal bash "$here/wal.sh" "$wal_n"
want checkout && step checkout checkout env BENCH_VARIANTS="minimal needed om" BENCH_DISTS=uniform \
	BENCH_CLIENTS="8 32" BENCH_SYNC=on BENCH_HOT_K= BENCH_OUT="$out/checkout" bash "$here/checkout.sh"
if want run_due; then
	for c in $due_clients; do
		step "run_due $due 2 $c" "run_due-$c" bash "$here/run_due.sh" "$due" 2 "$c"
	done
	for v in $due_floor; do
		step "run_due $due 2 0 1000 $v" "run_due-$v" bash "$here/run_due.sh" "$due" 2 0 1000 "$v"
	done
fi
if want hot && [ -f "$here/hot_auto.sh" ]; then
	step hot_auto hot env BENCH_HOT_K="$hot_k" BENCH_HOT_CLIENTS="$hot_clients" BENCH_OUT="$out/hot" \
		bash "$here/hot_auto.sh"
fi
want reports && step "reports $orders" reports reports "$orders"
want verify && step "verify $orders" verify verify_at "$orders"

# ---------------------------------------------------------------- the table
# the medians of a checkout results.tsv: "sync variant dist k clients" -> "units/s p99"
median_of() {			# results.tsv key
	[ -s "$1" ] || return 0
	bash "$here/table.sh" "$1" --medians | awk -F '\t' -v k="$2" '$1 " " $2 " " $3 " " $4 " " $5 == k {print $6, $8}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b}'; }
met() {				# value op target
	[ -n "$1" ] || { echo -; return; }
	awk -v v="$1" -v o="$2" -v t="$3" 'BEGIN {m = o == "<=" ? v <= t : o == "<" ? v < t : v >= t; print m ? "yes" : "no"}'
}
rows=()
row() { rows+=("| $1 | $2 | $3 | $4 |"); }
not_run() { echo "not measured (step not run or failed)"; }

# WAL
if [ -s "$out/wal.log" ] && read -r wf wo < <(sed -n 's/.*minimal floor \([0-9]*\) bytes, order_mgmt \([0-9]*\) bytes.*/\1 \2/p' "$out/wal.log") &&
	[ -n "$wo" ]; then
	r=$(ratio "$wo" "$wf")
	wn=$(sed -n 's/.*the needed floor .*: \([0-9]*\) bytes.*/\1/p' "$out/wal.log")
	row "WAL per one-line checkout, om / minimal floor ($wal_n after a CHECKPOINT)" "<= 1.50x" \
		"$wo / $wf bytes = ${r}x${wn:+ (the needed floor: $wn bytes = $(ratio "$wn" "$wf")x)}" "$(met "$r" '<=' 1.5)"
else
	row "WAL per one-line checkout, om / minimal floor" "<= 1.50x" "$(not_run)" -
fi

# checkout
res=$out/checkout/results.tsv
read -r m8 _ < <(median_of "$res" "on minimal uniform 1 8")
read -r n8 _ < <(median_of "$res" "on needed uniform 1 8")
read -r o8 p8 < <(median_of "$res" "on om uniform 1 8")
read -r o32 p32 < <(median_of "$res" "on om uniform 1 32")
if [ -n "${m8:-}" ] && [ -n "${o8:-}" ]; then
	r=$(ratio "$o8" "$m8")
	row "checkout, uniform, 8 clients: om / minimal floor (units/s)" ">= 0.80" \
		"$o8 / $m8 = $r${n8:+ (the needed floor: $n8 = $(ratio "$n8" "$m8") of the minimal; om $(ratio "$o8" "$n8") of it)}" \
		"$(met "$r" '>=' 0.8)"
else
	row "checkout, uniform, 8 clients: om / minimal floor (units/s)" ">= 0.80" "$(not_run)" -
fi
if [ -n "${o32:-}" ] && [ -n "${o8:-}" ]; then
	r=$(ratio "$o32" "$o8")
	row "checkout, uniform: om at 32 clients / at 8 (units/s; p99)" ">= 0.90" \
		"$o32 / $o8 = $r; p99 $p32 ms (8 clients: $p8 ms)" "$(met "$r" '>=' 0.9)"
else
	row "checkout, uniform: om at 32 clients / at 8 (units/s; p99)" ">= 0.90" "$(not_run)" -
fi

# reports and verify
if [ -s "$out/reports.log" ] && grep -q 'ms (median of 3)' "$out/reports.log"; then
	read -r rn rt < <(awk '/ms \(median of 3\)/ {if ($2 + 0 > t) {t = $2 + 0; n = $1}} END {print n, t}' "$out/reports.log")
	rf=$(awk -v n="$rn" '$1 == n && /its floor/ {print $2}' "$out/reports.log")
	row "reports at $orders orders: the slowest of 8 (median of 3)" "< 500 ms" \
		"$rn $rt ms${rf:+ (its floor, the same rows plain: $rf ms)}" "$(met "$rt" '<' 500)"
else
	row "reports at $orders orders: the slowest of 8" "< 500 ms" "$(not_run)" -
fi
if [ -s "$out/verify.log" ] && grep -q 'verify(1)' "$out/verify.log"; then
	row "verify() at $orders orders of shop 1 (median of 3)" "a figure; 0 rows" \
		"$(awk '/verify\(\)|verify\(1\)/ {printf "%s%s %.1f s, %s rows", s, $1, $2 / 1000, $7; s = "; "}' "$out/verify.log")" \
		"$(grep -q '[1-9][0-9]* rows$' "$out/verify.log" && echo no || echo -)"
else
	row "verify() at $orders orders of shop 1" "a figure; 0 rows" "$(not_run)" -
fi

# run_due
due_rate() { [ -s "$1" ] && sed -n 's/.* orders expired and auto-cancelled in .*: \([0-9]*\) orders\/s$/\1/p' "$1"; }
due_cpu() { [ -s "$1" ] && sed -n 's/.*, \([0-9]*\) us of CPU in the sweepers.*/\1/p' "$1"; }
for c in $due_clients; do
	log=$out/run_due-$c.log
	what="run_due, $due orders, 2 sweepers, $c checkout clients beside"
	[ "$c" = 0 ] && what="run_due, $due orders, 2 sweepers alone"
	rate=
	rate=$(due_rate "$log")
	if [ -n "$rate" ]; then
		# beside the sweep alone: the sweep floor (the same writes as plain
		# SQL), what any sweeper could reach with these tables here
		fl=
		if [ "$c" = 0 ]; then
			for v in $due_floor; do
				fr=$(due_rate "$out/run_due-$v.log")
				[ -n "$fr" ] || continue
				fc=$(due_cpu "$out/run_due-$v.log") oc=$(due_cpu "$log")
				fl="$fl; the sweep floor ($v) $fr orders/s, om $(ratio "$rate" "$fr") of it${fc:+${oc:+ (CPU per order: om $oc us, $v $fc us)}}"
			done
		fi
		beside=$fl$(sed -n 's/.*checkouts ([0-9]* clients): \([0-9]*\) orders\/s alone, \([0-9]*\) orders\/s beside.*(\([0-9]*%\)).*/; checkouts beside: \2 orders\/s, \1 alone (\3)/p' "$log")
		row "$what" ">= 20000 orders/s" "$rate$beside" "$(met "$rate" '>=' 20000)"
	else
		row "$what" ">= 20000 orders/s" "$(not_run)" -
	fi
done

# the hot SKU
if [ ! -f "$here/hot_auto.sh" ]; then
	row "hot SKU, default settings (no stock_buckets), 32 clients / one row (K=1)" ">= 3.00x" \
		"not measured: test/bench/hot_auto.sh absent" -
else
	read -r ha _ < <(median_of "$out/hot/results.tsv" "on om hot auto 32")
	read -r h1 _ < <(median_of "$out/hot/results.tsv" "on om hot 1 32")
	read -r h16 _ < <(median_of "$out/hot/results.tsv" "on om hot 16 32")
	if [ -n "${ha:-}" ] && [ -n "${h1:-}" ]; then
		r=$(ratio "$ha" "$h1")
		# what limits it: K = 16 set by hand, and the same checkouts with no
		# hot SKU at all (the checkout step's om, uniform, 32 clients), the
		# most any spreading can reach on this machine
		lim=${h16:+; K=16 by hand $h16 = $(ratio "$h16" "$h1")x}${o32:+; no hot SKU at all (uniform, 32 clients) $o32 = $(ratio "$o32" "$h1")x}
		row "hot SKU, default settings (no stock_buckets), 32 clients / one row (K=1) (units/s)" ">= 3.00x" \
			"$ha / $h1 = ${r}x$lim" "$(met "$r" '>=' 3)"
	else
		row "hot SKU, default settings (no stock_buckets), 32 clients / one row (K=1)" ">= 3.00x" "$(not_run)" -
	fi
fi

echo
echo "== issue 21 goals ($( [ "$smoke" = 1 ] && echo 'smoke run: the figures mean nothing' ||
	echo "checkout: $BENCH_RUNS runs of $BENCH_SECONDS s, median"); raw results in $out)"
echo
{
	echo "| goal | target | measured | met |"
	echo "|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | tee "$out/goals.md"
echo
echo "lean: $passed steps passed, $failed failed${failures:+ (failed: $failures)}, $(( ($(date +%s) - t0 + 30) / 60 )) min"
[ "$failed" -eq 0 ]
