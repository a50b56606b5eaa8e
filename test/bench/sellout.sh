#!/usr/bin/env bash
# Sell-out run (issue 6): one SKU with S units over K stock buckets, C
# clients making N one-unit checkout attempts between them.  It must sell
# exactly S units, leave verify() empty, and never answer "sold out"
# (OM001) while units remain: a sold-out answer is false when a checkout
# that started after it still got a unit (nothing is released in this run,
# so that unit was there when the answer was given).  Runs against the
# server in the PG* environment (for example inside pg_virtualenv), as a
# non-root user.  buckets "auto" leaves the SKU to the shop's defaults, so
# it starts on one bucket and balance_buckets() (called every 0.2 s here,
# as the sweeper would every sweep_interval) spreads it while it sells out
# (issue 21): splits race the last units.
#   test/bench/sellout.sh [stock=10000] [attempts=100000] [clients=32] [buckets=16|auto]
set -euo pipefail
stock=${1:-10000}
attempts=${2:-100000}
clients=${3:-32}
buckets=${4:-16}
db=${SELLOUT_DB:-order_mgmt_sellout}

dropdb --if-exists "$db" >/dev/null
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<SQL
CREATE EXTENSION order_mgmt;
CREATE SCHEMA sellout;
CREATE TABLE sellout.soldout (at timestamptz NOT NULL);
SELECT order_mgmt.create_shop(1, 'Sell-out shop');
SELECT order_mgmt.upsert_sku(1, 'HOT', 100, stock_buckets => $([ "$buckets" = auto ] && echo NULL || echo "$buckets"));
SELECT order_mgmt.set_stock(1, 'HOT', $stock);
-- one attempt: an order id, or NULL and a row in soldout for OM001
CREATE FUNCTION sellout.try() RETURNS bigint LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN order_mgmt.checkout(1, '[{"sku": "HOT", "qty": 1}]');
EXCEPTION WHEN SQLSTATE 'OM001' THEN
	INSERT INTO sellout.soldout VALUES (clock_timestamp());
	RETURN NULL;
END
\$\$;
SQL

per_client=$(( (attempts + clients - 1) / clients ))
echo "== sell-out: $stock units over $buckets buckets, $((per_client * clients)) attempts by $clients clients"
log=$(mktemp)
rc=0
bal=
if [ "$buckets" = auto ]; then
	# low thresholds, so that it splits (and merges) during a short run
	( while :; do
		psql -X -q -d "$db" -c "SET order_mgmt.hot_split_rate = 20; SET order_mgmt.hot_cool_time = 2;
			SELECT order_mgmt.balance_buckets(1)" >/dev/null 2>&1
		sleep 0.2
	done ) &
	bal=$!
fi
start=$(date +%s%N)
PGOPTIONS="-c order_mgmt.hot_flush_every=4" pgbench -n -d "$db" -c "$clients" -j 2 -t "$per_client" -M prepared \
	-f <(echo 'SELECT sellout.try();') >"$log" 2>&1 || rc=$?
end=$(date +%s%N)
if [ -n "$bal" ]; then
	kill "$bal" 2>/dev/null || true
	wait "$bal" 2>/dev/null || true
	echo "   auto: $(psql -X -d "$db" -At -c "SELECT count(*) || ' bucket changes, the most ' ||
		coalesce(max(substring(note FROM '-> ([0-9]+)')::int), 1) || ' buckets'
		FROM order_mgmt.stock_log WHERE shop_id = 1 AND delta = 0")"
fi
if [ "$rc" -ne 0 ]; then
	grep -iE 'error' "$log" | sort | uniq -c | head -20
	rm -f "$log"
	echo "sell-out: FAILED (pgbench exited $rc)"
	exit 1
fi
rm -f "$log"

read -r sold orders soldout false_soldout left problems sell_ms <<<"$(psql -X -d "$db" -At -F ' ' -c "
	SELECT (SELECT coalesce(sum(qty), 0) FROM order_mgmt.order_line WHERE shop_id = 1),
		   (SELECT count(*) FROM order_mgmt.orders WHERE shop_id = 1),
		   (SELECT count(*) FROM sellout.soldout),
		   (SELECT count(*) FROM sellout.soldout f
			WHERE EXISTS (SELECT FROM order_mgmt.orders o WHERE o.shop_id = 1 AND o.created_at > f.at)),
		   (SELECT available FROM order_mgmt.stock_level WHERE shop_id = 1 AND sku = 'HOT'),
		   (SELECT count(*) FROM order_mgmt.verify()),
		   (SELECT coalesce(round(extract(epoch FROM max(created_at) - min(created_at)) * 1000), 0)::bigint
			FROM order_mgmt.orders WHERE shop_id = 1)")"
ms=$(( (end - start) / 1000000 ))
echo "   sold $sold units in $orders orders in $sell_ms ms ($(( sold * 1000 / (sell_ms > 0 ? sell_ms : 1) )) units/s);" \
	"$soldout sold-out answers ($false_soldout false); $left left; whole run $ms ms ($(( (orders + soldout) * 1000 / (ms > 0 ? ms : 1) )) attempts/s)"
if [ "$sold" -ne "$stock" ] || [ "$false_soldout" -ne 0 ] || [ "$problems" -ne 0 ] || [ "$left" -ne 0 ]; then
	psql -X -d "$db" -c "SELECT * FROM order_mgmt.verify() LIMIT 20"
	echo "sell-out: FAILED (sold $sold of $stock, $false_soldout false sold-out answers, $left left, $problems invariant violations)"
	exit 1
fi
echo "sell-out: ok (exactly $stock sold, no false sold-out, verify() empty)"
