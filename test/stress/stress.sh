#!/usr/bin/env bash
# Stress: N clients run a mix of checkout, pay, fail, cancel, reactivate,
# ship, refund and run_due against one shop for S seconds; afterwards
# verify() must return no rows (never oversold, never over-redeemed, money
# and event log consistent).  Runs against the server in the PG*
# environment (for example inside pg_virtualenv), as a non-root user.
#   test/stress/stress.sh [seconds=60] [clients=16]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-60}
clients=${2:-16}
db=${STRESS_DB:-order_mgmt_stress}

dropdb --if-exists "$db" >/dev/null
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$here/setup.sql" >/dev/null

echo "== stress: $clients clients, $secs s"
log=$(mktemp)
rc=0
pgbench -n -c "$clients" -j 2 -T "$secs" -P 10 \
	-f "$here/checkout.pgbench@50" -f "$here/pay.pgbench@15" -f "$here/fail.pgbench@8" \
	-f "$here/cancel.pgbench@8" -f "$here/reactivate.pgbench@8" -f "$here/ship.pgbench@5" \
	-f "$here/refund.pgbench@3" -f "$here/sweep.pgbench@3" "$db" >"$log" 2>&1 || rc=$?
grep -E '^(progress|number of transactions|tps|latency average|number of failed)' "$log" | sed 's/^/   /'
if [ "$rc" -ne 0 ]; then
	grep -E 'error' "$log" | sort | uniq -c | head -20
	echo "stress: FAILED (pgbench exited $rc: a client hit an unexpected error)"
	exit 1
fi
rm -f "$log"

psql -X -d "$db" -At -F ' ' -c "
	SELECT 'orders', count(*) FROM order_mgmt.orders
	UNION ALL SELECT 'status ' || status || '/' || payment_status, count(*) FROM order_mgmt.orders GROUP BY status, payment_status
	UNION ALL SELECT 'units held', coalesce(sum(reserved), 0) FROM order_mgmt.stock
	UNION ALL SELECT 'hot sku S1 on_hand/reserved', sum(on_hand) * 1000 + sum(reserved) FROM order_mgmt.stock WHERE sku = 'S1'
	UNION ALL SELECT 'LIMITED used', used FROM order_mgmt.promo_code WHERE code_key = 'limited'
	UNION ALL SELECT 'events', count(*) FROM order_mgmt.order_event" | sed 's/^/   /'
problems=$(psql -X -d "$db" -At -c "SELECT count(*) FROM order_mgmt.verify()")
oversold=$(psql -X -d "$db" -At -c "SELECT count(*) FROM order_mgmt.stock WHERE NOT backorder AND reserved > on_hand")
if [ "$problems" -ne 0 ] || [ "$oversold" -ne 0 ]; then
	psql -X -d "$db" -c "SELECT * FROM order_mgmt.verify() LIMIT 20"
	echo "stress: FAILED ($problems invariant violations, $oversold oversold stock rows)"
	exit 1
fi
echo "stress: ok (verify() empty, nothing oversold)"
