-- Run on a worker by test/citus/citus.sh: a backend that runs many API
-- calls keeps its memory flat.  Citus 13.2.2 re-plans a kept (generic)
-- fast-path plan run on local shards on every execution and keeps every
-- copy (citusdata/citus#8824: about 30 kB a statement, 160 MB a thousand
-- checkouts); order_mgmt's plans are custom plans on Citus (spi_plans.c).
\set ON_ERROR_STOP 0
\pset tuples_only on
\pset format unaligned
\o /dev/null
SELECT s AS shop FROM generate_series(1, 8) s
WHERE (SELECT groupid FROM pg_dist_placement
	   WHERE shardid = get_shard_id_for_distribution_column('order_mgmt.shop', s))
	= (SELECT groupid FROM pg_dist_local_group)
LIMIT 1 \gset
SELECT order_mgmt.upsert_sku(:shop, 'MEM', 100);
SELECT order_mgmt.set_stock(:shop, 'MEM', 100000);
SELECT count(order_mgmt.checkout(:shop, '[{"sku": "MEM", "qty": 1}]')) FROM generate_series(1, 20);
SELECT sum(total_bytes) AS before FROM pg_backend_memory_contexts \gset
SELECT count(order_mgmt.checkout(:shop, '[{"sku": "MEM", "qty": 1}]')) FROM generate_series(1, 400);
\o
SELECT (CASE WHEN sum(total_bytes) - :before < 4000000 THEN 'ok' ELSE 'not ok' END)
	|| ' - 400 checkouts on a worker leave its backend''s memory flat (grew '
	|| pg_size_pretty(sum(total_bytes) - :before) || ')'
FROM pg_backend_memory_contexts;
