#!/usr/bin/env bash
# Sweeper throughput (issue 6): N orders whose payment deadline passed a
# day ago are expired (payment_timeout: failed) and auto-cancelled
# (auto_cancel_failed, no delay: stock and promo released) by S sessions
# calling order_mgmt.run_due(batch) until nothing is due, while C clients
# keep checking out beside them (C = 0: the sweepers alone).  Prints
# orders swept per second and the checkouts' throughput during the sweep
# against the same checkouts alone.
# Fails unless every order ends cancelled by the system and verify() is
# empty.  Uses checkout_setup.sql's data.  Runs against the server in the
# PG* environment (bench.sh starts one), as a non-root user.
#   test/bench/run_due.sh [orders=100000] [sweepers=2] [clients=4] [batch=1000] [sweep=om]
# sweep: om, the sessions call run_due(batch); or the sweep floor (issue
# 21, due_floor.sql): the same writes by one plain SQL statement per batch
# on order_mgmt's tables with its triggers off (session_replication_role =
# replica): floor (one row version per order: the needed sweep floor),
# floor0 (floor without the events), floor2 (two row versions and the
# auto_cancel due row, as run_due() writes today).  Also prints the WAL
# and the events written per order.
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
orders=${1:-100000}
sweepers=${2:-2}
clients=${3:-4}
batch=${4:-1000}
sweep=${5:-om}
case "$sweep" in
	om) call="order_mgmt.run_due($batch)" ;;
	floor | floor0 | floor2) call="bench.sweep_floor($batch, '$sweep')" ;;
	*) echo "run_due: unknown sweep $sweep (om, floor, floor0, floor2)" >&2; exit 2 ;;
esac
db=${RUN_DUE_DB:-order_mgmt_run_due}
work=$(mktemp -d /tmp/om-run-due.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

psql_q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "$@"; }

dropdb --if-exists "$db" >/dev/null
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$here/checkout_setup.sql" -f "$here/due_floor.sql" >/dev/null
psql_q -c "SELECT order_mgmt.update_shop(1, '{\"auto_cancel_failed\": true, \"payment_timeout\": \"1 hour\"}')" >/dev/null

# the checkouts: one to three uniform SKUs, 20% with a promo code
cat >"$work/checkout.sql" <<'EOF'
\set s1 random(1, 10000)
\set s2 random(1, 10000)
\set p random(1, 100)
\set c random(1, 1000)
\if :p <= 50
SELECT order_mgmt.checkout(1, jsonb_build_array(jsonb_build_object('sku', :s1::text, 'qty', 1)), customer_id => :c::text, promo_code => CASE WHEN :p <= 20 THEN 'P' || :p::text END);
\else
SELECT order_mgmt.checkout(1, jsonb_build_array(jsonb_build_object('sku', :s1::text, 'qty', 1), jsonb_build_object('sku', :s2::text, 'qty', 2)), customer_id => :c::text, promo_code => CASE WHEN :p <= 20 THEN 'P' || :p::text END);
\endif
EOF

# N orders checked out a day and an hour ago (test clock): overdue by a day
echo "== run_due: $orders overdue orders, $sweepers sweepers ($sweep: $call), $clients checkout clients beside"
per=$(( (orders + 7) / 8 ))
PGOPTIONS="-c synchronous_commit=off -c order_mgmt.clock=$(date -u -d '-25 hours' '+%Y-%m-%dT%H:%M:%SZ')" \
	pgbench -n -M prepared -c 8 -j 2 -t "$per" -f "$work/checkout.sql" "$db" >"$work/load.out" 2>&1 ||
	{ cat "$work/load.out"; exit 1; }
psql_q -c "VACUUM ANALYZE" >/dev/null
# the payment deadlines are orders.payment_due_at (issue 21), the rest due_action rows
due=$(psql_q -c "SELECT (SELECT count(*) FROM order_mgmt.due_action WHERE due_at < now())
	+ (SELECT count(*) FROM order_mgmt.orders WHERE payment_due_at < now()
	   AND status IN ('pending', 'confirmed') AND payment_status IN ('unpaid', 'pending'))")
echo "   $due orders overdue"

# checkouts alone, as the baseline
count_since() { psql_q -c "SELECT count(*) FROM order_mgmt.orders WHERE shop_id = 1 AND order_id > $1"; }
alone=0
if [ "$clients" -gt 0 ]; then
	last=$(psql_q -c "SELECT bench.last_order()")
	pgbench -n -M prepared -c "$clients" -j 2 -T 10 -f "$work/checkout.sql" "$db" >"$work/alone.out" 2>&1 ||
		{ cat "$work/alone.out"; exit 1; }
	alone=$(( $(count_since "$last") / 10 ))
fi

# the sweep, with the checkouts beside it
last=$(psql_q -c "SELECT bench.last_order()")
bench_pid=
if [ "$clients" -gt 0 ]; then
	pgbench -n -M prepared -c "$clients" -j 2 -T 3600 -f "$work/checkout.sql" "$db" >"$work/beside.out" 2>&1 &
	bench_pid=$!
	sleep 1
fi
read -r lsn0 ev0 <<<"$(psql_q -F ' ' -c "SELECT pg_current_wal_insert_lsn(), coalesce(max(event_id), 0) FROM order_mgmt.order_event")"
role=
[ "$sweep" != om ] && role="-c session_replication_role=replica"
start=$(date +%s.%N)
pids=()
for s in $(seq 1 "$sweepers"); do
	PGOPTIONS="${PGOPTIONS:-} $role" psql -X -q -v ON_ERROR_STOP=1 -d "$db" >"$work/sweep$s.out" 2>&1 <<SQL &
SELECT pg_backend_pid() AS pid \\gset
\\setenv OM_SWEEPER_PID :pid
DO \$\$
BEGIN
	-- a sweeper that finds nothing free stops; the others finish
	LOOP
		EXIT WHEN $call = 0;
		COMMIT;
	END LOOP;
END
\$\$;
-- the backend's CPU time (user + system, in clock ticks) when the server is local
\\! awk '{print \$14 + \$15}' /proc/\$OM_SWEEPER_PID/stat >"$work/cpu$s" 2>/dev/null || true
SQL
	pids+=($!)
done
failed=0
for p in "${pids[@]}"; do
	wait "$p" || failed=1
done
end=$(date +%s.%N)
# the sweepers' CPU, when the server is local (clock ticks)
cpu=$(cat "$work"/cpu* 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{t += $1; n++} END {if (n) printf "%.2f", t / hz}')
read -r wal events <<<"$(psql_q -F ' ' -c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$lsn0'),
	(SELECT count(*) FROM order_mgmt.order_event WHERE event_id > $ev0)")"
sweep_orders=$(count_since "$last")
# RUN_DUE_WAL_RELS=1: the sweep's WAL by relation (pg_walinspect; a record
# counts for the relation of its first block); slow over much WAL
if [ "${RUN_DUE_WAL_RELS:-0}" = 1 ]; then
	echo "   the sweep's WAL by relation (bytes per order swept, records per order):"
	psql_q -F ' ' <<SQL | awk '{printf "     %-32s %6s %6s\n", $1, $2, $3}'
CREATE EXTENSION IF NOT EXISTS pg_walinspect;
WITH n AS (SELECT greatest(count(*), 1) AS n FROM order_mgmt.orders WHERE order_id <= $last AND status = 'cancelled'),
r AS (SELECT record_length, (regexp_match(block_ref, 'rel \d+/\d+/(\d+)'))[1]::oid AS node
	  FROM pg_get_wal_records_info('$lsn0', pg_current_wal_flush_lsn()))
SELECT coalesce(c.relname, CASE WHEN r.node IS NULL THEN '(no_block:commit,...)' ELSE 'relfilenode_' || r.node END),
	   round(sum(r.record_length) / min(n.n)), round(count(*)::numeric / min(n.n), 2)
FROM r CROSS JOIN n LEFT JOIN pg_class c ON c.relfilenode = r.node
GROUP BY 1 ORDER BY 2 DESC LIMIT 20;
SQL
fi
if [ -n "$bench_pid" ]; then
	kill "$bench_pid" 2>/dev/null || true
	wait "$bench_pid" 2>/dev/null || true
fi
[ "$failed" -eq 0 ] || { cat "$work"/sweep*.out; echo "run_due: FAILED (a sweeper failed)"; exit 1; }

# what the sweep did, counted in the database
read -r cancelled left bad <<<"$(psql_q -F ' ' -c "
	SELECT count(*) FILTER (WHERE status = 'cancelled' AND cancel_source = 'system'),
		   (SELECT count(*) FROM order_mgmt.due_action WHERE due_at < now() - interval '1 hour')
		   + (SELECT count(*) FROM order_mgmt.orders WHERE payment_due_at < now() - interval '1 hour'
			  AND status IN ('pending', 'confirmed') AND payment_status IN ('unpaid', 'pending')),
		   (SELECT count(*) FROM order_mgmt.verify())
	FROM order_mgmt.orders WHERE shop_id = 1 AND created_at < now() - interval '1 day'")"
awk -v n="$cancelled" -v s="$start" -v e="$end" -v a="$alone" -v b="$sweep_orders" -v c="$clients" \
	-v w="$wal" -v ev="$events" -v cpu="$cpu" 'BEGIN {
	t = e - s
	printf "   %d orders expired and auto-cancelled in %.1f s: %.0f orders/s\n", n, t, n / t
	if (n > 0 && c == 0)
		printf "   per order: %.0f bytes of WAL, %.2f events%s\n", w / n, ev / n,
			cpu != "" ? sprintf(", %.0f us of CPU in the sweepers (%.1f s in all)", 1e6 * cpu / n, cpu) : ""
	pct = a > 0 ? 100 * (b / t) / a : 0
	if (c > 0)
		printf "   checkouts (%d clients): %d orders/s alone, %.0f orders/s beside the sweep (%.0f%%)\n",
			c, a, b / t, pct
}'
# floor0 writes no events, so verify() finds the status events missing
if [ "$sweep" = floor0 ] && [ "$bad" -ne 0 ]; then
	echo "   (floor0: $bad verify() rows, the events it leaves out)"
	bad=0
fi
if [ "$cancelled" -ne "$due" ] || [ "$left" -ne 0 ] || [ "$bad" -ne 0 ]; then
	echo "run_due: FAILED ($cancelled of $due cancelled, $left still due, $bad verify() rows)"
	exit 1
fi
echo "run_due: ok ($cancelled orders swept, nothing left due, verify() empty)"
