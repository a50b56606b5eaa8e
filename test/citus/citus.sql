-- The Citus suite (issue 16, docs/citus.md): run through the coordinator of
-- a coordinator and two workers by test/citus/citus.sh.  Each check prints
-- "ok - name" or "not ok - name"; citus.sh counts them against the plan.
\set ON_ERROR_STOP 0
\pset tuples_only on
\pset format unaligned
\o /dev/null
CREATE EXTENSION order_mgmt;
\o
-- propagated: the extension exists on every node
SELECT (CASE WHEN bool_and(result = '0.2.0') AND count(*) = 3 THEN 'ok' ELSE 'not ok' END) || ' - extension propagated to every node'
FROM run_command_on_all_nodes($$SELECT extversion FROM pg_extension WHERE extname = 'order_mgmt'$$);
\o /dev/null
SELECT order_mgmt.distribute() AS distributed \gset
\o
SELECT (CASE WHEN :distributed > 60 THEN 'ok' ELSE 'not ok' END) || ' - distribute() distributes tables and functions';
SELECT (CASE WHEN order_mgmt.distribute() = 0 THEN 'ok' ELSE 'not ok' END) || ' - distribute() again does nothing';
SELECT (CASE WHEN count(*) FILTER (WHERE d.partmethod = 'h') >= 19 AND count(*) FILTER (WHERE d.partmethod = 'n') = 1
	AND count(*) FILTER (WHERE d.logicalrelid IS NULL) = 0
	AND count(DISTINCT d.colocationid) FILTER (WHERE d.partmethod = 'h') = 1 THEN 'ok' ELSE 'not ok' END)
	|| ' - every table distributed: shop tables co-located by shop_id, status_label a reference table'
FROM pg_class c LEFT JOIN pg_dist_partition d ON d.logicalrelid = c.oid
WHERE c.relnamespace = 'order_mgmt'::regnamespace AND c.relkind = 'r';

-- shops 1..12 (enough to land on both workers)
\o /dev/null
SELECT order_mgmt.create_shop(1, 'Shop 1');
SELECT order_mgmt.create_shop(2, 'Shop 2');
SELECT order_mgmt.create_shop(3, 'Shop 3');
SELECT order_mgmt.create_shop(4, 'Shop 4');
SELECT order_mgmt.create_shop(5, 'Shop 5');
SELECT order_mgmt.create_shop(6, 'Shop 6');
SELECT order_mgmt.create_shop(7, 'Shop 7');
SELECT order_mgmt.create_shop(8, 'Shop 8');
\o
SELECT (CASE WHEN count(DISTINCT n.nodeport) = 2 THEN 'ok' ELSE 'not ok' END) || ' - shops land on both workers'
FROM (SELECT get_shard_id_for_distribution_column('order_mgmt.shop', s) AS shardid FROM generate_series(1, 8) s) s
JOIN pg_dist_placement p ON p.shardid = s.shardid JOIN pg_dist_node n ON n.groupid = p.groupid;

-- set-up, on shop 110
\o /dev/null
SELECT order_mgmt.create_shop(110, 'Story shop');
SELECT order_mgmt.update_shop(110, '{"auto_cancel_failed": true, "reward_rate": 0.1}');
SELECT order_mgmt.upsert_sku(110, 'A', 500);
SELECT order_mgmt.upsert_sku(110, 'B', 300, stock_buckets => 4);
SELECT order_mgmt.set_stock(110, 'B', 40);
SELECT order_mgmt.set_stock(110, 'A', 1);
SELECT order_mgmt.upsert_customer(110, 'mary', 'mary@example.com');
SELECT order_mgmt.upsert_customer(110, 'john', 'john@example.com');
\o
SELECT (CASE WHEN sum(available) = 41 THEN 'ok' ELSE 'not ok' END) || ' - set-up: upsert_sku, set_stock (buckets)'
FROM order_mgmt.stock_level WHERE shop_id = 110;

-- seed 000: Mary checks out the last A; her payment fails; the shop cancels it
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]', customer_id => 'mary') AS mary \gset
\o /dev/null
SELECT order_mgmt.payment_failed(110, :mary, 'card declined');
-- the auto-cancel is due at once: an API call on the order applies it
SELECT order_mgmt.add_note(110, :mary, 'admin', 'called her');
\o
SELECT (CASE WHEN status = 'cancelled' AND cancel_source = 'system' THEN 'ok' ELSE 'not ok' END)
	|| ' - failed payment, overdue auto-cancel applied by the next call'
FROM order_mgmt.orders WHERE shop_id = 110 AND order_id = :mary;
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]', customer_id => 'john') AS john \gset
\o /dev/null
SELECT order_mgmt.payment_succeeded(110, :john, 500, 'pay-john');
SELECT order_mgmt.reactivate(110, :mary);
\o
SELECT (CASE WHEN :'LAST_ERROR_SQLSTATE' = 'OM001' THEN 'ok' ELSE 'not ok' END) || ' - reactivate without stock: OM001';

-- promo + buckets
\o /dev/null
SELECT order_mgmt.set_stock(110, 'A', 5);
SELECT order_mgmt.create_promo(110, 'WELCOME', 'amount', 50, usage_limit => 1);
\o
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 3}]', customer_id => 'mary',
	promo_code => 'WELCOME') AS mary2 \gset
SELECT (CASE WHEN total = 1350 AND discount = 50 THEN 'ok' ELSE 'not ok' END) || ' - checkout with promo and buckets'
FROM order_mgmt.orders WHERE shop_id = 110 AND order_id = :mary2;
\o /dev/null
SELECT order_mgmt.cancel(110, :mary2, 'payment_failed', source => 'system');
\o
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]', customer_id => 'john', promo_code => 'welcome') AS john2 \gset
\o /dev/null
SELECT order_mgmt.reactivate(110, :mary2);
\o
SELECT (CASE WHEN :'LAST_ERROR_SQLSTATE' = 'OM003' THEN 'ok' ELSE 'not ok' END) || ' - reactivate with the code used up: OM003';

-- a product-scoped code (issue 18) through the coordinator: it discounts
-- only the lines of its product, at checkout and when add_lines grows the
-- order, and refuses an order without them
\o /dev/null
SELECT order_mgmt.upsert_sku(110, 'C', 200, product_id => 'CUP');
SELECT order_mgmt.set_stock(110, 'C', 20);
SELECT order_mgmt.create_promo(110, 'CUP10', 'percent', 10, products => ARRAY['CUP']);
SELECT order_mgmt.checkout(110, '[{"sku": "B", "qty": 1}, {"sku": "C", "qty": 2}]', promo_code => 'cup10',
	hold => '15 minutes') AS cup \gset
\o
SELECT (CASE WHEN o.discount = 40 AND o.total = 660 AND sum(l.discount) FILTER (WHERE l.sku = 'C') = 40
	AND sum(l.discount) FILTER (WHERE l.sku = 'B') = 0
	THEN 'ok' ELSE 'not ok' END) || ' - scoped promo code: discount on the lines of its product only'
FROM order_mgmt.orders o JOIN order_mgmt.order_line l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
WHERE o.shop_id = 110 AND o.order_id = :cup GROUP BY o.shop_id, o.order_id;
\o /dev/null
SELECT order_mgmt.add_lines(110, :cup, '[{"sku": "C", "qty": 1}]');
\o
SELECT (CASE WHEN o.discount = 60 AND sum(l.discount) = 60 AND o.total = 840 THEN 'ok' ELSE 'not ok' END)
	|| ' - add_lines: the scoped code prices all the lines again, shares on the lines'
FROM order_mgmt.orders o JOIN order_mgmt.order_line l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
WHERE o.shop_id = 110 AND o.order_id = :cup GROUP BY o.shop_id, o.order_id;
\o /dev/null
SELECT order_mgmt.checkout(110, '[{"sku": "B", "qty": 1}]', promo_code => 'CUP10');
\o
SELECT (CASE WHEN :'LAST_ERROR_SQLSTATE' = 'OM002' THEN 'ok' ELSE 'not ok' END) || ' - scoped code on an order without its product: OM002';

-- a direct UPDATE through the coordinator: the guard trigger runs on the shard
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'changed_mind', cancel_source = 'customer'
WHERE shop_id = 110 AND order_id = :john2;
SELECT (CASE WHEN state = 'released' THEN 'ok' ELSE 'not ok' END) || ' - direct UPDATE: effects trigger released the code'
FROM order_mgmt.promo_redemption WHERE shop_id = 110 AND order_id = :john2;
UPDATE order_mgmt.orders SET payment_status = 'refunded' WHERE shop_id = 110 AND order_id = :mary;
SELECT (CASE WHEN :'SQLSTATE' = 'OM005' THEN 'ok' ELSE 'not ok' END) || ' - direct UPDATE refused by the guard: OM005';
-- a multi-row UPDATE on one shop (row by row on Citus: docs/citus.md)
\o /dev/null
SELECT order_mgmt.set_stock(110, 'B', 40);
SELECT order_mgmt.checkout(110, '[{"sku": "B", "qty": 2}]') AS bulk1 \gset
SELECT order_mgmt.checkout(110, '[{"sku": "B", "qty": 3}]') AS bulk2 \gset
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'other'
WHERE shop_id = 110 AND order_id IN (:bulk1, :bulk2);
\o
SELECT (CASE WHEN count(*) = 2 AND bool_and(o.status = 'cancelled')
	AND (SELECT count(*) FROM order_mgmt.reservation r WHERE r.shop_id = 110
		 AND r.order_id IN (:bulk1, :bulk2) AND r.state = 'released') = 2 THEN 'ok' ELSE 'not ok' END)
	|| ' - a multi-row UPDATE of one shop''s orders: each cancelled, its stock released'
FROM order_mgmt.orders o WHERE o.shop_id = 110 AND o.order_id IN (:bulk1, :bulk2);
\o /dev/null
SELECT order_mgmt.reactivate(110, :mary2, 'pending');
\o
SELECT (CASE WHEN status = 'pending' AND reactivated_at IS NOT NULL THEN 'ok' ELSE 'not ok' END) || ' - reactivate re-claims the code'
FROM order_mgmt.orders WHERE shop_id = 110 AND order_id = :mary2;

-- payments, shipping, returns
\o /dev/null
SELECT order_mgmt.payment_succeeded(110, :mary2, 1350, 'p2');
SELECT order_mgmt.ship(110, :mary2, 'T1');
SELECT order_mgmt.set_delivery_status(110, :mary2, 'arrived');
\o
SELECT (CASE WHEN delivery_status = 'arrived' AND delivered_at IS NOT NULL THEN 'ok' ELSE 'not ok' END)
	|| ' - ship, then arrived: the package follows (an enum parameter, not a cast inside CASE)'
FROM order_mgmt.orders WHERE shop_id = 110 AND order_id = :mary2;
SELECT order_mgmt.request_return(110, :mary2, '[{"sku": "B", "qty": 1}]', 'too many') AS r \gset
\o /dev/null
SELECT order_mgmt.approve_return(110, :r);
SELECT order_mgmt.receive_return(110, :r, true);
SELECT order_mgmt.credit_note(110, :r);
SELECT order_mgmt.refund(110, :mary2, 300, 'ref-1');
\o
SELECT (CASE WHEN payment_status = 'partially_refunded' AND refunded_amount = 300 THEN 'ok' ELSE 'not ok' END)
	|| ' - payment, ship, return, refund'
FROM order_mgmt.orders WHERE shop_id = 110 AND order_id = :mary2;
\o /dev/null
SELECT order_mgmt.complete(110, :mary2);
SELECT order_mgmt.refund(110, :mary2, 100, 'ref-2');
\o
SELECT (CASE WHEN sum(points) FILTER (WHERE kind = 'earned') = 105 AND sum(points) FILTER (WHERE kind = 'reversed') = 10
	THEN 'ok' ELSE 'not ok' END) || ' - reward points earned on completion, reversed by a later refund'
FROM order_mgmt.reward_ledger WHERE shop_id = 110 AND order_id = :mary2;

-- deadlines: a payment timeout in the past, applied lazily by the next call
\o /dev/null
SELECT order_mgmt.update_shop(110, '{"payment_timeout": "1 second"}');
\o
SELECT order_mgmt.set_stock(110, 'A', 10) \g /dev/null
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]') AS late \gset
SELECT pg_sleep(1.2) \g /dev/null
\o /dev/null
SELECT order_mgmt.add_note(110, :late, 'admin', 'late');
\o
SELECT (CASE WHEN payment_status = 'failed' AND status = 'cancelled' THEN 'ok' ELSE 'not ok' END) || ' - payment timeout (and the auto-cancel after it) applied by the next call on its worker'
FROM order_mgmt.orders WHERE shop_id = 110 AND order_id = :late;

-- run_due on Citus: run_due() over every shop is refused (FOR UPDATE
-- across shards); run_due_shop(shop_id) is delegated to the shop's worker,
-- and sweeping every shop is one top-level call per shop (docs/citus.md)
\o /dev/null
-- each call top-level, so delegated to the shop's worker
SELECT format('SELECT order_mgmt.update_shop(%s, %L)', s, '{"payment_timeout": "1 second"}'),
	   format('SELECT order_mgmt.upsert_sku(%s, %L, 100)', s, 'D'),
	   format('SELECT order_mgmt.set_stock(%s, %L, 5)', s, 'D'),
	   format('SELECT order_mgmt.checkout(%s, %L)', s, '[{"sku": "D", "qty": 1}]'),
	   format('SELECT order_mgmt.checkout(%s, %L)', s, '[{"sku": "D", "qty": 1}]')
FROM generate_series(1, 8) s
\gexec
SELECT pg_sleep(1.2);
\o
SELECT order_mgmt.run_due_shop(1, 1) AS one \gset
SELECT (CASE WHEN :one = 1 AND count(*) FILTER (WHERE payment_status = 'failed') = 1 THEN 'ok' ELSE 'not ok' END)
	|| ' - run_due_shop(1, 1) sweeps one of shop 1''s overdue orders on its worker'
FROM order_mgmt.orders WHERE shop_id BETWEEN 1 AND 8;
\o /dev/null
SELECT format('SELECT order_mgmt.run_due_shop(%s)', shop_id) FROM order_mgmt.shop ORDER BY shop_id
\gexec
\o
SELECT count(*) AS due_left FROM order_mgmt.due_action WHERE shop_id BETWEEN 1 AND 8 AND due_at <= now() \gset
SELECT (CASE WHEN count(*) = 16 AND bool_and(o.payment_status = 'failed') AND count(DISTINCT n.nodeport) = 2
	AND :due_left = 0 THEN 'ok' ELSE 'not ok' END)
	|| ' - run_due_shop for every shop sweeps the overdue orders on both workers'
FROM order_mgmt.orders o
JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('order_mgmt.shop', o.shop_id)
JOIN pg_dist_node n ON n.groupid = p.groupid
WHERE o.shop_id BETWEEN 1 AND 8;

-- issue 21: a payment deadline is orders.payment_due_at, no due_action
-- row; a timeout that fails (a constraint refuses the order's failure)
-- backs off as a due_action row on the shop's worker, and a cancel drops it
SELECT (CASE WHEN count(*) = 0 THEN 'ok' ELSE 'not ok' END)
	|| ' - checkouts on Citus write no payment_timeout row (the deadline is payment_due_at)'
FROM order_mgmt.due_action WHERE action = 'payment_timeout' AND shop_id BETWEEN 1 AND 8;
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]', order_no => 'NOFAIL') AS nofail \gset
ALTER TABLE order_mgmt.orders ADD CONSTRAINT citus_never_fails CHECK (order_no <> 'NOFAIL' OR payment_status <> 'failed');
\o /dev/null
SELECT pg_sleep(1.2);
SET client_min_messages = error;
SELECT order_mgmt.run_due_shop(110);
RESET client_min_messages;
\o
ALTER TABLE order_mgmt.orders DROP CONSTRAINT citus_never_fails;
SELECT (CASE WHEN d.attempts = 1 AND d.due_at > now() AND o.payment_status = 'unpaid' THEN 'ok' ELSE 'not ok' END)
	|| ' - a failing payment timeout backs off as a due_action row on the shop''s worker'
FROM order_mgmt.due_action d JOIN order_mgmt.orders o USING (shop_id, order_id)
WHERE d.shop_id = 110 AND d.order_id = :nofail AND d.action = 'payment_timeout' AND o.shop_id = 110;
\o /dev/null
SELECT order_mgmt.cancel(110, :nofail);
\o

-- the test clock: SET LOCAL in a transaction block, with Citus sending
-- SET LOCAL to the workers (citus.propagate_set_commands = 'local'); the
-- calls run on the coordinator, the statements and triggers on the worker
SET citus.propagate_set_commands = 'local';
BEGIN;
SET LOCAL order_mgmt.clock = '2031-01-01 00:00+00';
SELECT order_mgmt.checkout(110, '[{"sku": "B", "qty": 1}]') AS clocked \gset
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'other' WHERE shop_id = 110 AND order_id = :clocked;
COMMIT;
RESET citus.propagate_set_commands;
SELECT (CASE WHEN o.created_at = '2031-01-01 00:00+00' AND o.payment_due_at > o.created_at
	AND count(*) = 3 AND bool_and(e.at = '2031-01-01 00:00+00') THEN 'ok' ELSE 'not ok' END)
	|| ' - the test clock set in a transaction block reaches the worker''s statements and triggers'
FROM order_mgmt.orders o JOIN order_mgmt.order_event e USING (shop_id, order_id)
WHERE o.shop_id = 110 AND o.order_id = :clocked
GROUP BY o.created_at, o.payment_due_at;

-- ids: every node takes them from its own range (claim_id_range), so a
-- call that is not delegated (inside a transaction block: it runs on the
-- coordinator, its statements routed) and delegated ones can mix on a shop
SELECT (CASE WHEN count(DISTINCT result) = 3 THEN 'ok' ELSE 'not ok' END)
	|| ' - every node has its own id range'
FROM run_command_on_all_nodes($$SELECT min_value FROM pg_sequences WHERE schemaname = 'order_mgmt' AND sequencename = 'order_id_seq'$$);
\o /dev/null
SELECT order_mgmt.set_stock(110, 'A', 10);
BEGIN;
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]') AS mixed \gset
COMMIT;
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]');
SELECT order_mgmt.payment_succeeded(110, :mixed, 500, 'mixed-1');
SELECT order_mgmt.add_note(110, :mixed, 'admin', 'delegated after a coordinator checkout');
\o
SELECT (CASE WHEN count(*) = count(DISTINCT event_id) AND bool_and(o.payment_status = 'paid') THEN 'ok' ELSE 'not ok' END)
	|| ' - a checkout run on the coordinator, then delegated calls on the same shop: no id reused'
FROM order_mgmt.order_event e JOIN order_mgmt.orders o USING (shop_id, order_id)
WHERE e.shop_id = 110 AND e.order_id = :mixed;

-- reports and the outbox, delegated to the shop's worker
SELECT (CASE WHEN sum(orders) >= 4 THEN 'ok' ELSE 'not ok' END) || ' - report_daily_breakdown'
FROM order_mgmt.report_daily_breakdown(110, current_date - 1, current_date + 1);
SELECT (CASE WHEN count(*) >= 1 THEN 'ok' ELSE 'not ok' END) || ' - report_cancel_reasons'
FROM order_mgmt.report_cancel_reasons(110, current_date - 1, current_date + 1);
SELECT (CASE WHEN order_mgmt.register_consumer(110, 'mail', true) THEN 'ok' ELSE 'not ok' END) || ' - register_consumer';
SELECT (CASE WHEN count(*) > 20 THEN 'ok' ELSE 'not ok' END) || ' - next_events reads the shop''s worker'
FROM order_mgmt.next_events(110, 'mail', 1000);
SELECT (CASE WHEN count(*) > 20 THEN 'ok' ELSE 'not ok' END) || ' - events_since'
FROM order_mgmt.events_since(110, 0, 1000);

-- the background sweeper on Citus: each node sweeps the shops whose
-- shards it holds (sweeper.c), so overdue orders fail with no call
\o /dev/null
SELECT format('SELECT order_mgmt.checkout(%s, %L)', s, '[{"sku": "D", "qty": 1}]') FROM generate_series(1, 8) s
\gexec
SELECT pg_sleep(1.1);
SELECT * FROM run_command_on_all_nodes($$ALTER SYSTEM SET order_mgmt.sweep_interval = '100ms'$$);
SELECT * FROM run_command_on_all_nodes($$SELECT pg_reload_conf()$$);
\o
DO $$
DECLARE
	due bigint;
BEGIN
	FOR i IN 1 .. 300 LOOP
		-- the payment deadlines are orders.payment_due_at (issue 21)
		SELECT count(*) INTO due FROM order_mgmt.orders
		WHERE shop_id BETWEEN 1 AND 8 AND payment_status = 'unpaid';
		EXIT WHEN due = 0;
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
SELECT (CASE WHEN count(*) = 24 AND bool_and(payment_status = 'failed') THEN 'ok' ELSE 'not ok' END)
	|| ' - the background sweeper on each worker fails its shops'' overdue orders'
FROM order_mgmt.orders WHERE shop_id BETWEEN 1 AND 8;
\o /dev/null
SELECT * FROM run_command_on_all_nodes($$ALTER SYSTEM SET order_mgmt.sweep_interval = '1h'$$);
SELECT * FROM run_command_on_all_nodes($$SELECT pg_reload_conf()$$);
\o

-- seed 001 on Citus (issue 17 items 9-11): two packages, a return within
-- the window by 7-11 C2B, store credit spent at checkout (a single-row
-- UPDATE of the balance on Citus, checkout.c) and given back, a refund as
-- store credit
\o /dev/null
SELECT order_mgmt.set_stock(110, 'A', 20);
SELECT order_mgmt.set_stock(110, 'B', 20);
SELECT order_mgmt.update_shop(110, '{"return_window": "7 days", "reward_rate": 0}');
SELECT order_mgmt.grant_store_credit(110, 'mary', 300, 'welcome back');
\o
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}]', customer_id => 'mary',
	store_credit => 200) AS credited \gset
-- (a distributed function is not called inside a query on a shard table:
-- Citus would push it into the shard query, and its own query would nest)
SELECT order_mgmt.store_credit_balance(110, 'mary') AS balance \gset
SELECT (CASE WHEN o.credit_applied = 200 AND :balance = 100 THEN 'ok' ELSE 'not ok' END)
	|| ' - checkout spends store credit on the shop''s worker'
FROM order_mgmt.orders o WHERE o.shop_id = 110 AND o.order_id = :credited;
SELECT order_mgmt.checkout(110, '[{"sku": "B", "qty": 1}]', customer_id => 'mary', store_credit => 300) AS overdrawn \gset
SELECT :'LAST_ERROR_SQLSTATE' AS overdrawn_state, order_mgmt.store_credit_balance(110, 'mary') AS balance \gset
SELECT (CASE WHEN :'overdrawn_state' = 'OM015' AND :balance = 100
	THEN 'ok' ELSE 'not ok' END) || ' - a balance that does not cover the credit: OM015, nothing written';
\o /dev/null
SELECT order_mgmt.payment_succeeded(110, :credited, 600, 'pay-credited');
SELECT order_mgmt.ship_package(110, :credited, '[{"sku": "A", "qty": 1}]', 'tcat', 'TC-1') AS pkg1 \gset
\o
SELECT (CASE WHEN delivery_status = 'partially_shipped' THEN 'ok' ELSE 'not ok' END) || ' - the first of two packages: partially_shipped'
FROM order_mgmt.orders WHERE shop_id = 110 AND order_id = :credited;
\o /dev/null
SELECT order_mgmt.ship_package(110, :credited, '[{"sku": "B", "qty": 1}]', 'tcat', 'TC-2') AS pkg2 \gset
SELECT order_mgmt.set_shipment_status(110, :pkg1, 'arrived');
SELECT order_mgmt.set_shipment_status(110, :pkg2, 'arrived');
SELECT order_mgmt.request_return(110, :credited, '[{"sku": "B", "qty": 1}]', 'wrong size',
	method => 'convenience_store', carrier => '7-11', tracking_no => 'C2B-1') AS ret \gset
SELECT order_mgmt.approve_return(110, :ret);
SELECT order_mgmt.receive_return(110, :ret);
SELECT order_mgmt.refund(110, :credited, 50, 'back-as-credit', NULL, 'store_credit');
\o
SELECT order_mgmt.store_credit_balance(110, 'mary') AS balance \gset
SELECT (CASE WHEN o.delivery_status = 'arrived' AND o.delivered_at IS NOT NULL AND r.state = 'completed'
	AND r.method = 'convenience_store' AND r.tracking_no = 'C2B-1' AND r.store_credit > 0
	AND :balance = 100 + r.store_credit + 50 THEN 'ok' ELSE 'not ok' END)
	|| ' - packages arrive, a return within the window gives back its credit, a refund as store credit'
FROM order_mgmt.orders o JOIN order_mgmt.return_request r ON r.shop_id = o.shop_id AND r.order_id = o.order_id
WHERE o.shop_id = 110 AND o.order_id = :credited AND r.return_id = :ret;

-- edit_order (issue 18) through the coordinator: a swap to another size
-- and a promo code applied, stock and totals on the shop's worker
\o /dev/null
SELECT order_mgmt.upsert_sku(110, 'TEE-M', 400, product_id => 'TEE');
SELECT order_mgmt.upsert_sku(110, 'TEE-L', 400, product_id => 'TEE');
SELECT order_mgmt.set_stock(110, 'TEE-M', 3);
SELECT order_mgmt.set_stock(110, 'TEE-L', 3);
SELECT order_mgmt.create_promo(110, 'EDIT10', 'percent', 10);
\o
SELECT order_mgmt.checkout(110, '[{"sku": "TEE-L", "qty": 2}]', customer_id => 'john') AS edited \gset
SELECT order_mgmt.edit_order(110, :edited, '[{"op": "swap", "line": 1, "sku": "TEE-M"}, {"op": "promo", "code": "EDIT10"}]',
	'size M, with the promotion', 0) AS edit_version \gset
SELECT (CASE WHEN o.total = 720 AND o.promo_key = 'edit10' AND o.lock_version = :edit_version
	AND l.sku = 'TEE-M' AND l.discount = 80
	AND (SELECT sum(reserved) FROM order_mgmt.stock WHERE shop_id = 110 AND sku = 'TEE-M') = 2
	AND (SELECT sum(reserved) FROM order_mgmt.stock WHERE shop_id = 110 AND sku = 'TEE-L') = 0
	THEN 'ok' ELSE 'not ok' END) || ' - edit_order: a swap and a promo code on the shop''s worker'
FROM order_mgmt.orders o JOIN order_mgmt.order_line l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
WHERE o.shop_id = 110 AND o.order_id = :edited;
-- a code without a usage limit at checkout (its claim's UPDATE of the
-- code's count is skipped: on Citus a separate statement, promo.c)
SELECT order_mgmt.checkout(110, '[{"sku": "TEE-L", "qty": 1}]', promo_code => 'EDIT10') AS unlimited \gset
SELECT (CASE WHEN discount = 40 THEN 'ok' ELSE 'not ok' END) || ' - checkout with a code that has no usage limit'
FROM order_mgmt.orders WHERE shop_id = 110 AND order_id = :unlimited;

-- issue 18 on Citus: a guest checkout with a shipping address (one more
-- INSERT ... VALUES on the shop's worker), set_address, the report's
-- ship_to, and the erasures (single-shard UPDATEs, FOR SHARE/UPDATE reads)
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]', email => 'guest@example.com',
	shipping_address => '{"line1": "99 Sukhumvit Rd", "city": "Bangkok", "country": "TH"}') AS guest \gset
SELECT order_mgmt.set_address(110, :guest, 'shipping',
	'{"line1": "99 Sukhumvit Rd", "city": "Nonthaburi", "country": "TH"}') AS version \gset
SELECT ship_to FROM order_mgmt.report_followups(110) WHERE order_id = :guest \gset
SELECT (CASE WHEN :version = 2 AND a.address ->> 'city' = 'Nonthaburi'
	AND :'ship_to' = '99 Sukhumvit Rd, Nonthaburi, TH' THEN 'ok' ELSE 'not ok' END)
	|| ' - a guest checkout with an address, changed by set_address, in report_followups'
FROM order_mgmt.order_address a WHERE a.shop_id = 110 AND a.order_id = :guest AND a.version = 2;
SELECT order_mgmt.erase_customer(110, 'mary') AS erased \gset
SELECT order_mgmt.erase_guest(110, 'guest@example.com') AS erased_guest \gset
SELECT order_mgmt.erase_customer(110, 'mary') AS erased_again \gset
SELECT (CASE WHEN :erased > 0 AND :erased_guest = 1 AND :erased_again = 0
	AND NOT EXISTS (SELECT FROM order_mgmt.orders o WHERE o.shop_id = 110 AND o.email IS NOT NULL
					AND (o.customer_id = 'mary' OR o.order_id = :guest))
	AND NOT EXISTS (SELECT FROM order_mgmt.order_address a WHERE a.shop_id = 110 AND a.address IS NOT NULL)
	AND NOT EXISTS (SELECT FROM order_mgmt.customer c WHERE c.shop_id = 110 AND c.customer_id = 'mary'
					AND (c.email IS NOT NULL OR c.name IS NOT NULL))
	THEN 'ok' ELSE 'not ok' END) || ' - erase_customer and erase_guest blank e-mails and addresses; again, nothing';

-- issue 20, pg_cron on Citus (docs/reference.md, "Scheduling with
-- pg_cron"): a job "SELECT order_mgmt.run_due()" cannot sweep there (it is
-- refused and changes nothing, so cron.job_run_details would show it
-- failing); a job per shop, "SELECT order_mgmt.run_due_shop(2)", a
-- top-level statement as pg_cron runs it, sweeps the shop on its worker
SELECT order_mgmt.checkout(2, '[{"sku": "D", "qty": 1}]', order_no => 'CRON') AS cron_order \gset
\o /dev/null
SELECT pg_sleep(1.2);
CREATE TEMP TABLE cron_probe (refused bool);
DO $$
BEGIN
	PERFORM order_mgmt.run_due();
	INSERT INTO cron_probe VALUES (false);
EXCEPTION WHEN OTHERS THEN
	INSERT INTO cron_probe VALUES (true);
END
$$;
\o
SELECT (CASE WHEN (SELECT bool_and(refused) FROM cron_probe) AND o.payment_status = 'unpaid'
	THEN 'ok' ELSE 'not ok' END) || ' - a pg_cron job of run_due() is refused on Citus and sweeps nothing'
FROM order_mgmt.orders o WHERE o.shop_id = 2 AND o.order_id = :cron_order;
SELECT order_mgmt.run_due_shop(2) AS cron_swept \gset
SELECT (CASE WHEN :cron_swept >= 1 AND o.payment_status = 'failed' THEN 'ok' ELSE 'not ok' END)
	|| ' - the per-shop job run_due_shop(2) sweeps the overdue order on its worker'
FROM order_mgmt.orders o WHERE o.shop_id = 2 AND o.order_id = :cron_order;

-- issue 19 on Citus: every node's roles are as the install script makes
-- them (NOLOGIN, no attribute, a member of nothing), and every node's
-- order_line_stamp runs with the pinned search_path
SELECT (CASE WHEN bool_and(result = '3') AND count(*) = 3 THEN 'ok' ELSE 'not ok' END)
	|| ' - order_mgmt_app/admin/report harmless on every node'
FROM run_command_on_all_nodes($$SELECT count(*) FROM pg_catalog.pg_roles r
	WHERE r.rolname IN ('order_mgmt_app', 'order_mgmt_admin', 'order_mgmt_report')
	  AND NOT (r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls)
	  AND NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid)$$);
SELECT (CASE WHEN bool_and(result = 'search_path=pg_catalog, order_mgmt, pg_temp') AND count(*) = 3
	THEN 'ok' ELSE 'not ok' END) || ' - order_line_stamp pins search_path on every node'
FROM run_command_on_all_nodes($$SELECT pg_catalog.array_to_string(proconfig, ' ') FROM pg_catalog.pg_proc
	WHERE oid = 'order_mgmt.order_line_stamp()'::pg_catalog.regprocedure$$);

-- issue 19 on Citus (what the fuzzer found): the new refusals are raised
-- on the shop's worker as on one node, before anything is written
SELECT order_mgmt.set_delivery_status(110, :guest, 'partially_shipped');
SELECT (CASE WHEN :'LAST_ERROR_SQLSTATE' = 'OM005' THEN 'ok' ELSE 'not ok' END)
	|| ' - set_delivery_status to partially_shipped without a package: OM005';
SELECT order_mgmt.payment_started(110, :guest, repeat('x', 1048576));
SELECT (CASE WHEN :'LAST_ERROR_SQLSTATE' = '22023' THEN 'ok' ELSE 'not ok' END)
	|| ' - a 1 MB provider_ref: 22023, not the index''s 54000';

-- issue 21: no foreign key refers to orders (distribute() took the tables
-- all the same), and a SKU with sold lines is kept by keep_referenced on
-- the shop's worker, as on one node (23503), nothing deleted
SELECT (CASE WHEN count(*) = 0 THEN 'ok' ELSE 'not ok' END) || ' - no foreign key to orders, shop tables distributed'
FROM pg_constraint WHERE contype = 'f' AND confrelid = 'order_mgmt.orders'::regclass;
DELETE FROM order_mgmt.sku WHERE shop_id = 110 AND sku = 'A';
SELECT (CASE WHEN :'LAST_ERROR_SQLSTATE' = '23503'
	AND EXISTS (SELECT FROM order_mgmt.sku WHERE shop_id = 110 AND sku = 'A')
	THEN 'ok' ELSE 'not ok' END) || ' - a SKU with sold lines is not deleted (23503)';
-- issue 21 on Citus: a hot SKU spreads itself.  balance_buckets() runs on
-- the shop's worker (sku_heat, unlogged, is distributed like the other
-- shop tables), splits the contended SKU over 2 buckets without changing
-- its totals, and checkout reads the automatic count there
SELECT order_mgmt.upsert_sku(110, 'HOT21', 10);
SELECT order_mgmt.set_stock(110, 'HOT21', 5);
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since)
VALUES (110, 'HOT21', 99, 1000, now() - interval '1 second');
SELECT order_mgmt.balance_buckets(110) AS changed \gset
SELECT (CASE WHEN :'changed' = '1' AND k.auto_buckets = 2 AND count(*) = 2 AND sum(s.on_hand) = 5
	AND max(s.on_hand) = 3 AND EXISTS (SELECT FROM order_mgmt.stock_log l WHERE l.shop_id = 110 AND l.sku = 'HOT21'
		AND l.delta = 0 AND l.note LIKE 'auto_buckets 1 -> 2 %')
	THEN 'ok' ELSE 'not ok' END) || ' - balance_buckets() spreads a contended SKU on the shop''s worker'
FROM order_mgmt.stock s JOIN order_mgmt.sku k USING (shop_id, sku)
WHERE s.shop_id = 110 AND s.sku = 'HOT21' GROUP BY k.auto_buckets;
SELECT order_mgmt.checkout(110, '[{"sku": "HOT21", "qty": 4}]') > 0 AS bought \gset
SELECT (CASE WHEN :'bought' AND sum(reserved) = 4 AND count(*) FILTER (WHERE reserved > 0) = 2
	THEN 'ok' ELSE 'not ok' END) || ' - a checkout takes the units from both automatic buckets'
FROM order_mgmt.stock WHERE shop_id = 110 AND sku = 'HOT21';

-- cross-shop: a report over every shop (Citus distributed execution)
SELECT (CASE WHEN count(DISTINCT shop_id) = 9 THEN 'ok' ELSE 'not ok' END) || ' - cross-shop query through the coordinator'
FROM order_mgmt.shop;
SELECT (CASE WHEN count(*) = 0 THEN 'ok' ELSE 'not ok' END) || ' - verify(110) empty' FROM order_mgmt.verify(110);
SELECT (CASE WHEN count(*) = 0 THEN 'ok' ELSE 'not ok' END) || ' - verify() empty for all shops' FROM order_mgmt.verify();

-- issue 19: row-level security by shop is refused on Citus (it would need
-- a subquery in the policies, which Citus refuses, and the shop mapping
-- read on the workers); the shop check of every call costs nothing there
SELECT order_mgmt.enable_rls();
SELECT (CASE WHEN :'LAST_ERROR_SQLSTATE' = '0A000'
	AND NOT EXISTS (SELECT FROM pg_class WHERE relnamespace = 'order_mgmt'::regnamespace AND relrowsecurity)
	AND NOT EXISTS (SELECT FROM pg_policy WHERE polname = 'shop_isolation')
	THEN 'ok' ELSE 'not ok' END) || ' - enable_rls() refused on Citus (0A000), no policy left';
SELECT order_mgmt.grant_shop_access(110, current_user) AS granted \gset
SELECT order_mgmt.check_shop_access(110);
SELECT order_mgmt.revoke_shop_access(110, current_user) AS revoked \gset
SELECT (CASE WHEN :'granted' = 't' AND :'revoked' = 't' AND :'LAST_ERROR_SQLSTATE' = '0A000'
	THEN 'ok' ELSE 'not ok' END) || ' - grant_shop_access, check_shop_access, revoke_shop_access on the shop''s worker';

-- issue 16, moving a shop (move_shop, docs/citus.md "Moving shops"): a shop
-- with events and a consumer in the middle of a batch moves to the other
-- worker; its events are rebased there, the consumer then reads exactly
-- the rest, once each, and events_since() goes on from its position
\o /dev/null
SELECT order_mgmt.create_shop(2710, 'Moving shop');
SELECT order_mgmt.upsert_sku(2710, 'M', 100);
SELECT order_mgmt.set_stock(2710, 'M', 50);
SELECT order_mgmt.register_consumer(2710, 'mover', true);
SELECT order_mgmt.checkout(2710, '[{"sku": "M", "qty": 1}]') AS m1 \gset
SELECT order_mgmt.checkout(2710, '[{"sku": "M", "qty": 2}]') AS m2 \gset
SELECT order_mgmt.payment_succeeded(2710, :m1, 100, 'move-1');
SELECT order_mgmt.cancel(2710, :m2, 'other');
\o
SELECT string_agg(event_id::text, ',' ORDER BY event_id) AS read1 FROM order_mgmt.next_events(2710, 'mover', 3) \gset
SELECT max(event_id) AS since_pos FROM order_mgmt.events_since(2710, 0, 4) \gset
SELECT string_agg(event_id::text, ',' ORDER BY xid, event_id) AS before_all, count(*) AS before_n
FROM order_mgmt.events_since(2710, 0, 1000) \gset
SELECT n.nodeport AS from_port, (SELECT m.nodeport FROM pg_dist_node m WHERE m.groupid NOT IN (0, n.groupid)) AS to_port
FROM pg_dist_placement p JOIN pg_dist_node n ON n.groupid = p.groupid
WHERE p.shardid = get_shard_id_for_distribution_column('order_mgmt.shop', 2710) \gset
SELECT order_mgmt.move_shop(2710, '127.0.0.1', :to_port) AS rebased \gset
SELECT (CASE WHEN :rebased >= :before_n AND n.nodeport = :to_port THEN 'ok' ELSE 'not ok' END)
	|| ' - move_shop moves the shop''s shard group to the other worker and rebases its events'
FROM pg_dist_placement p JOIN pg_dist_node n ON n.groupid = p.groupid
WHERE p.shardid = get_shard_id_for_distribution_column('order_mgmt.shop', 2710);
\o /dev/null
SELECT order_mgmt.checkout(2710, '[{"sku": "M", "qty": 3}]') AS m3 \gset
SELECT order_mgmt.payment_succeeded(2710, :m3, 300, 'move-3');
\o
SELECT string_agg(event_id::text, ',' ORDER BY event_id) AS after_all FROM order_mgmt.order_event
WHERE shop_id = 2710 AND event_id > ALL (string_to_array(:'before_all', ',')::bigint[]) \gset
SELECT string_agg(event_id::text, ',' ORDER BY event_id) AS read2 FROM order_mgmt.next_events(2710, 'mover', 1000) \gset
SELECT string_agg(event_id::text, ',' ORDER BY event_id) AS read3 FROM order_mgmt.next_events(2710, 'mover', 1000) \gset
SELECT count(*) AS read4 FROM order_mgmt.next_events(2710, 'mover', 1000) \gset
SELECT (CASE WHEN r.ids = b.ids || string_to_array(:'after_all', ',')::bigint[] AND :read4 = 0
	THEN 'ok' ELSE 'not ok' END)
	|| ' - after the move the consumer reads exactly the rest, once each, the moved events first: '
	|| array_length(r.ids, 1) || ' events'
FROM (SELECT string_to_array(concat_ws(',', :'read1', NULLIF(:'read2', ''), NULLIF(:'read3', '')), ',')::bigint[] AS ids) r,
	 (SELECT array_agg(x ORDER BY x) AS ids FROM unnest(string_to_array(:'before_all', ',')::bigint[]) x) b;
SELECT string_agg(event_id::text, ',' ORDER BY xid, event_id) AS since_rest FROM order_mgmt.events_since(2710, :since_pos, 1000) \gset
SELECT (CASE WHEN :'since_rest' = array_to_string((string_to_array(:'before_all', ','))[5:], ',') || ',' || :'after_all'
	THEN 'ok' ELSE 'not ok' END) || ' - events_since() goes on from its position: the moved events in their order, then the new ones';
SELECT order_mgmt.move_shop(2710, '127.0.0.1', :to_port) AS again \gset
SELECT order_mgmt.move_shop(2710, '127.0.0.1', 1) AS nowhere \gset
SELECT :'LAST_ERROR_SQLSTATE' AS nowhere_state \gset
SELECT order_mgmt.move_shop(2799, '127.0.0.1', :from_port) AS unknown \gset
SELECT (CASE WHEN :again = 0 AND :'nowhere_state' = '22023' AND :'LAST_ERROR_SQLSTATE' = 'OM014'
	THEN 'ok' ELSE 'not ok' END) || ' - move_shop again moves nothing; an unknown node 22023, an unknown shop OM014';
SELECT (CASE WHEN count(*) = 0 THEN 'ok' ELSE 'not ok' END) || ' - verify(2710) empty on its new worker'
FROM order_mgmt.verify(2710);
-- issue 21, the index entries: reservation_held and orders_open_payment are
-- gone from every shard; a cancel still releases its holds (a HOT update now)
SELECT (CASE WHEN bool_and(result = '0') AND count(*) = 2 THEN 'ok' ELSE 'not ok' END)
	|| ' - no shard has an index reservation_held or orders_open_payment'
FROM run_command_on_workers($$SELECT count(*) FROM pg_indexes WHERE schemaname = 'order_mgmt'
	AND (indexname LIKE 'reservation_held%' OR indexname LIKE 'orders_open_payment%')$$);
\o /dev/null
SELECT order_mgmt.create_shop(3150, 'Index shop');
SELECT order_mgmt.upsert_sku(3150, 'R', 100);
SELECT order_mgmt.set_stock(3150, 'R', 10);
SELECT order_mgmt.checkout(3150, '[{"sku": "R", "qty": 2}]') AS r1 \gset
SELECT order_mgmt.checkout(3150, '[{"sku": "R", "qty": 3}]') AS r2 \gset
SELECT order_mgmt.cancel(3150, :r1);
\o
SELECT count(*) AS idx_verify FROM order_mgmt.verify(3150) \gset
SELECT sum(reserved) AS idx_reserved FROM order_mgmt.stock WHERE shop_id = 3150 AND sku = 'R' \gset
SELECT (CASE WHEN count(*) FILTER (WHERE r.state = 'released' AND r.order_id = :r1) = 1
			   AND count(*) FILTER (WHERE r.state = 'held' AND r.order_id = :r2) = 1
			   AND :idx_reserved = 3 AND :idx_verify = 0
		THEN 'ok' ELSE 'not ok' END) || ' - cancel releases its holds without reservation_held; verify(3150) empty'
FROM order_mgmt.reservation r WHERE r.shop_id = 3150;
SELECT (CASE WHEN bool_and(result = '0') AND count(*) = 2 THEN 'ok' ELSE 'not ok' END) || ' - verify() empty, asked on each worker'
FROM run_command_on_workers($$SELECT count(*) FROM order_mgmt.verify()$$);
