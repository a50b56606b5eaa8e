#!/usr/bin/env bash
# A write that arrives while move_shop() moves its shop (issue 16): the
# move (block_writes) runs in a transaction held open for 3 s; a checkout
# of the shop sent through the coordinator meanwhile waits for it, then
# runs on the shop's new worker.  Prints one check: the checkout waited
# and succeeded, its order is on the new worker with the others, the
# stock held matches, verify() is empty.  The shop is the first of SHOP ..
# SHOP+49 in a shard group of its own, if one is (else its group's shops
# move with it).
# Run by citus.sh as user postgres: move_blocked.sh HOST PORT [SHOP]
set -uo pipefail
host=$1 port=$2 first=${3:-2750}
bin=$(dirname "${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}")
psql_c() { "$bin/psql" -h "$host" -p "$port" -d om -X -q -At -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "not ok - a checkout during move_shop waits and lands on the new worker: $1"; exit 0; }
taken=$(psql_c -c "SELECT string_agg(DISTINCT get_shard_id_for_distribution_column('order_mgmt.shop', shop_id)::text, ',')
	FROM order_mgmt.shop") || fail "no shards"
shop=$(psql_c -c "SELECT s FROM generate_series($first, $first + 49) s
	ORDER BY get_shard_id_for_distribution_column('order_mgmt.shop', s) = ANY ('{${taken}}'::bigint[]), s
	LIMIT 1") || fail "no shop"
psql_c -c "SELECT order_mgmt.create_shop($shop, 'Moved while busy')" \
	-c "SELECT order_mgmt.upsert_sku($shop, 'A', 10)" \
	-c "SELECT order_mgmt.set_stock($shop, 'A', 100)" \
	-c "SELECT order_mgmt.checkout($shop, '[{\"sku\": \"A\", \"qty\": 1}]')" >/dev/null || fail "set-up failed"
where="SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n ON n.groupid = p.groupid
	WHERE p.shardid = get_shard_id_for_distribution_column('order_mgmt.shop', $shop)"
from=$(psql_c -c "$where")
to=$(psql_c -c "SELECT nodeport FROM pg_dist_node WHERE noderole = 'primary' AND groupid > 0 AND nodeport <> $from LIMIT 1")
work=$(mktemp -d /tmp/order_mgmt-move.XXXXXX)
psql_c -c "BEGIN" -c "SELECT order_mgmt.move_shop($shop, '127.0.0.1', $to)" -c "SELECT pg_sleep(3)" \
	-c "COMMIT" >"$work/move.out" 2>&1 &
mover=$!
sleep 1
start=$(date +%s%N)
order=$(psql_c -c "SELECT order_mgmt.checkout($shop, '[{\"sku\": \"A\", \"qty\": 2}]')" 2>"$work/checkout.err")
rc=$?
waited=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$mover" || { cat "$work/move.out" >&2; rm -rf "$work"; fail "the move failed"; }
cat "$work/checkout.err" >&2
rm -rf "$work"
[ "$rc" = 0 ] || fail "the checkout failed"
now=$(psql_c -c "$where")
read -r orders reserved <<<"$(psql_c -F ' ' -c "SELECT (SELECT count(*) FROM order_mgmt.orders WHERE shop_id = $shop),
	(SELECT sum(reserved) FROM order_mgmt.stock WHERE shop_id = $shop)")"
bad=$(psql_c -c "SELECT count(*) FROM order_mgmt.verify($shop)")
direct=$("$bin/psql" -h "$host" -p "$to" -d om -X -q -At -c "SET citus.override_table_visibility = off" \
	-c "SELECT count(*) FROM order_mgmt.orders WHERE shop_id = $shop AND order_id = $order" | tail -1)
if [ "$now" = "$to" ] && [ "$waited" -ge 1000 ] && [ "$orders" = 2 ] && [ "$reserved" = 3 ] && [ "$bad" = 0 ] &&
	[ "$direct" = 1 ]; then
	echo "ok - a checkout during move_shop waits for it ($waited ms) and lands on the new worker, verify() empty"
else
	fail "worker $now (want $to), waited $waited ms, $orders orders, $reserved reserved, verify $bad rows, on the new worker $direct"
fi
