#!/usr/bin/env bash
# Never oversold on Citus (issue 16): two shops on different workers, one
# SKU each with 300 units, and 8 pgbench clients per shop checking out one
# unit at a time through the coordinator (each call delegated to the
# shop's worker) until it sells out.  A client stops at its first OM001,
# which every client meets only once the SKU is gone.  Prints one check
# per shop: exactly 300 sold and held, nothing available, verify() empty.
# Run by citus.sh as user postgres: sellout.sh HOST PORT
set -uo pipefail
host=$1 port=$2 stock=300
bin=$(dirname "${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}")
psql_c() { "$bin/psql" -h "$host" -p "$port" -d om -X -q -At "$@"; }
# two shops of 1..8 whose shards are on different workers
read -r a b < <(psql_c -c "
	SELECT min(s) FILTER (WHERE nodeport = min_port), min(s) FILTER (WHERE nodeport <> min_port)
	FROM (SELECT s, n.nodeport, min(n.nodeport) OVER () AS min_port
		  FROM generate_series(1, 8) s
		  JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('order_mgmt.shop', s)
		  JOIN pg_dist_node n ON n.groupid = p.groupid) x" | tr '|' ' ')
for s in $a $b; do
	psql_c -c "SELECT order_mgmt.upsert_sku($s, 'HOT', 10)" -c "SELECT order_mgmt.set_stock($s, 'HOT', $stock)" >/dev/null
done
script=$(mktemp /tmp/order_mgmt-sellout.XXXXXX.pgbench)
echo "SELECT order_mgmt.checkout(:shop, '[{\"sku\": \"HOT\", \"qty\": 1}]');" >"$script"
for s in $a $b; do
	"$bin/pgbench" -h "$host" -p "$port" -n -c 8 -j 2 -t 100 -D shop="$s" -f "$script" om \
		>"$script.$s.log" 2>&1 &
done
wait
for s in $a $b; do
	psql_c -c "
	SELECT CASE WHEN sold = $stock AND held = $stock AND available = 0 AND broken = 0 THEN 'ok' ELSE 'not ok' END
		|| ' - sell-out through the coordinator, shop $s on port ' || port || ': ' || sold || ' of $stock sold, '
		|| available || ' left, verify() ' || CASE WHEN broken = 0 THEN 'empty' ELSE broken || ' rows' END
	FROM (SELECT (SELECT coalesce(sum(l.qty), 0) FROM order_mgmt.order_line l WHERE l.shop_id = $s AND l.sku = 'HOT') AS sold,
				 (SELECT sum(reserved) FROM order_mgmt.stock WHERE shop_id = $s AND sku = 'HOT') AS held,
				 (SELECT sum(available) FROM order_mgmt.stock_level WHERE shop_id = $s AND sku = 'HOT') AS available,
				 (SELECT count(*) FROM order_mgmt.verify($s)) AS broken,
				 (SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n ON n.groupid = p.groupid
				   WHERE p.shardid = get_shard_id_for_distribution_column('order_mgmt.shop', $s)) AS port) x"
	grep -E 'OM001|insufficient stock' "$script.$s.log" | head -1 | sed 's/^/# /'
done
rm -f "$script" "$script".*.log
