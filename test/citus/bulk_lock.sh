#!/usr/bin/env bash
# The lock step of multi-row UPDATEs on Citus (issue 16,
# citus_lock_step.c): on one shop, four clients each cancel and reactivate
# their own three orders with one UPDATE per step (their lines take the
# SKUs S1 and S2 in different orders, and two carry a limited promo code
# with a per-customer limit), while two clients check out S1 and S2 with
# that code, for SECONDS seconds, through the coordinator.  Done row by
# row, the UPDATEs deadlock with each other and with the checkouts; with
# the lock step none may (without it, 8 s saw 56).  Prints one check: no
# deadlock (40P01 "deadlock detected") and no
# other error, the stock exact (what the orders hold is what the stock rows
# have reserved, nothing lost on hand), verify() empty.
# Run by citus.sh as user postgres: bulk_lock.sh HOST PORT [SECONDS [SHOP]]
set -uo pipefail
host=$1 port=$2 secs=${3:-8} shop=${4:-2701}
bin=$(dirname "${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}")
psql_c() { "$bin/psql" -h "$host" -p "$port" -d om -X -q -At -v ON_ERROR_STOP=1 "$@"; }
psql_c -c "SELECT order_mgmt.create_shop($shop, 'Bulk lock')" \
	-c "SELECT order_mgmt.update_shop($shop, '{\"payment_timeout\": \"1 day\"}')" \
	-c "SELECT order_mgmt.upsert_sku($shop, 'S1', 10)" \
	-c "SELECT order_mgmt.upsert_sku($shop, 'S2', 10)" \
	-c "SELECT order_mgmt.upsert_sku($shop, 'S3', 10, stock_buckets => 4)" \
	-c "SELECT order_mgmt.set_stock($shop, 'S1', 100000)" \
	-c "SELECT order_mgmt.set_stock($shop, 'S2', 100000)" \
	-c "SELECT order_mgmt.set_stock($shop, 'S3', 100000)" \
	-c "SELECT order_mgmt.upsert_customer($shop, 'bulk', 'bulk@example.com')" \
	-c "SELECT order_mgmt.create_promo($shop, 'BULK', 'amount', 1, usage_limit => 1000000, per_customer_limit => 1000000)" \
	>/dev/null || { echo "not ok - multi-row UPDATEs on Citus: set-up failed"; exit 0; }
# each client's three orders: odd clients S1, S2, then S1 + S2 + S3 with
# the code; even ones S2, S1 with the code, then S1 (S3 in four buckets)
order() { psql_c -c "SELECT order_mgmt.checkout($shop, '$1', customer_id => 'bulk'${2:+, promo_code => 'BULK'})"; }
s1='[{"sku": "S1", "qty": 1}]' s2='[{"sku": "S2", "qty": 2}]'
all='[{"sku": "S1", "qty": 1}, {"sku": "S2", "qty": 1}, {"sku": "S3", "qty": 1}]'
work=$(mktemp -d /tmp/order_mgmt-bulk.XXXXXX)
echo "UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'other' WHERE shop_id = $shop AND order_id IN (:a, :b, :c);
UPDATE order_mgmt.orders SET status = 'pending' WHERE shop_id = $shop AND order_id IN (:a, :b, :c);" >"$work/update.sql"
echo "SELECT order_mgmt.checkout($shop, '$all', customer_id => 'bulk', promo_code => 'BULK');" >"$work/checkout.sql"
for c in 1 2 3 4; do
	if [ $((c % 2)) = 1 ]; then
		ids[c]="-D a=$(order "$s1") -D b=$(order "$s2") -D c=$(order "$all" promo)"
	else
		ids[c]="-D a=$(order "$s2") -D b=$(order "$s1" promo) -D c=$(order "$s1")"
	fi
done
for c in 1 2 3 4; do
	# shellcheck disable=SC2086
	"$bin/pgbench" -h "$host" -p "$port" -n -c 1 -T "$secs" --failures-detailed --verbose-errors ${ids[c]} \
		-f "$work/update.sql" om >"$work/update$c.log" 2>&1 &
done
"$bin/pgbench" -h "$host" -p "$port" -n -c 2 -T "$secs" --failures-detailed --verbose-errors -f "$work/checkout.sql" om \
	>"$work/checkout.log" 2>&1 &
wait
count() { grep -h "$1" "$work"/$2 | sed -E 's/.*: ([0-9]+).*/\1/' | awk '{ s += $1 } END { print s + 0 }'; }
failed=$(count 'number of deadlock failures' '*.log')
# a lock cycle on the worker is PostgreSQL's "deadlock detected"; Citus'
# distributed deadlock detector may also cancel a transaction that waited
# long ("involved in a distributed deadlock"), counted apart (docs/citus.md)
deadlocks=$(cat "$work"/*.log | grep -c 'ERROR:  deadlock detected')
cancelled=$((failed - deadlocks))
updates=$(count 'number of transactions actually processed' 'update*.log')
# (verify() is a distributed function: called on its own, not in a subquery)
broken=$(psql_c -c "SELECT count(*) FROM order_mgmt.verify($shop)")
errors=$(cat "$work"/*.log | grep -E 'ERROR|aborted' | grep -v 'deadlock detected' | grep -vc 'distributed deadlock')
psql_c -c "
SELECT CASE WHEN $deadlocks = 0 AND $errors = 0 AND $updates > 0 AND held = reserved AND held = ordered
		AND on_hand = 300000 AND broken = 0 THEN 'ok' ELSE 'not ok' END
	|| ' - multi-row UPDATEs and checkouts on one shop for ${secs} s: $updates cancel/reactivate pairs, '
	|| '$deadlocks deadlocks, $cancelled cancelled by Citus'' deadlock detector, $errors other errors, ' || reserved || ' units reserved, ' || held || ' held, '
	|| ordered || ' ordered, verify() ' || CASE WHEN broken = 0 THEN 'empty' ELSE broken || ' rows' END
FROM (SELECT (SELECT sum(reserved) FROM order_mgmt.stock WHERE shop_id = $shop) AS reserved,
			 (SELECT sum(on_hand) FROM order_mgmt.stock WHERE shop_id = $shop) AS on_hand,
			 (SELECT sum(qty) FROM order_mgmt.reservation WHERE shop_id = $shop AND state = 'held') AS held,
			 (SELECT sum(l.qty) FROM order_mgmt.order_line l JOIN order_mgmt.orders o USING (shop_id, order_id)
			   WHERE l.shop_id = $shop AND o.shop_id = $shop AND o.status <> 'cancelled') AS ordered,
			 $broken AS broken) x"
grep -hE 'ERROR|aborted' "$work"/*.log | sed -E 's/^client [0-9]+ //' | sort | uniq -c | head -3 | sed 's/^/# /'
rm -rf "$work"
