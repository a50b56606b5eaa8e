-- The payment deadline is a column of orders (issue 21): a checkout writes
-- no due_action row for it; run_due(), run_due_shop() and every API call
-- find an order awaiting payment past payment_due_at through the partial
-- index orders_payment_due.  Only a timeout that fails becomes a
-- due_action row, which backs off.  The clock is set before the deadlines
-- the other tests leave, and the test leaves nothing due.
SET order_mgmt.clock = '2020-05-01 10:00+00';
SELECT order_mgmt.create_shop(3000, 'Payment due shop');
SELECT order_mgmt.update_shop(3000, '{"auto_cancel_failed": true, "auto_cancel_delay": "1 hour"}');
SELECT setval('order_mgmt.order_id_seq', 30000000);
SELECT order_mgmt.upsert_sku(3000, 'A', 100);
SELECT order_mgmt.set_stock(3000, 'A', 20);
SELECT indexdef FROM pg_indexes WHERE schemaname = 'order_mgmt' AND indexname = 'orders_payment_due';

-- a checkout: the deadline is in payment_due_at, no due_action row; the
-- hold's end still is one
SELECT order_mgmt.checkout(3000, '[{"sku": "A", "qty": 1}]', order_no => 'P1') AS p1 \gset
SET order_mgmt.clock = '2020-05-01 10:01+00';
SELECT order_mgmt.checkout(3000, '[{"sku": "A", "qty": 1}]', order_no => 'P2', hold => '10 minutes') AS p2 \gset
SELECT order_mgmt.checkout(3000, '[{"sku": "A", "qty": 1}]', order_no => 'PAID') AS paid \gset
SELECT order_mgmt.checkout(3000, '[{"sku": "A", "qty": 1}]', order_no => 'COD', logistics => 'cod') AS cod \gset
SELECT order_no, payment_due_at, hold_until FROM order_mgmt.orders WHERE shop_id = 3000 ORDER BY order_id;
SELECT order_id - :p1 AS n, action, due_at FROM order_mgmt.due_action WHERE shop_id = 3000 ORDER BY 1, 2;

-- paid: no deadline left, so never timed out
SELECT order_mgmt.mark_paid(3000, :paid);
SELECT payment_status, payment_due_at FROM order_mgmt.orders WHERE order_id = :paid;

-- earliest due first across both kinds: a batch of one ends P2's hold
-- (10:11), the next batch of one times out P1 (10:30), found from orders
SET order_mgmt.clock = '2020-05-01 11:00+00';
SELECT order_mgmt.run_due(1) AS done;
SELECT order_no, payment_status, hold_until FROM order_mgmt.orders WHERE order_id IN (:p1, :p2) ORDER BY order_id;
SELECT order_mgmt.run_due(1) AS done;
SELECT order_no, payment_status FROM order_mgmt.orders WHERE order_id IN (:p1, :p2) ORDER BY order_id;
-- then P2; the paid order and the cod order (no deadline) are not touched
SELECT order_mgmt.run_due(10) AS done;
SELECT order_no, status, payment_status FROM order_mgmt.orders WHERE shop_id = 3000 ORDER BY order_id;
SELECT order_id - :p1 AS n, kind, from_value, to_value, detail ->> 'action' AS action, actor
FROM order_mgmt.order_event WHERE order_id IN (:p1, :p2) AND kind IN ('payment_status', 'deadline')
ORDER BY event_id;
-- the auto-cancels the timeouts scheduled are due_action rows, as before
SELECT order_id - :p1 AS n, action, due_at, reason FROM order_mgmt.due_action WHERE shop_id = 3000 ORDER BY 1, 2;

-- a retry keeps the original deadline, passed: the next API call on the
-- order applies it first (lazily, without run_due), as a row did
SELECT order_mgmt.payment_started(3000, :p1, 'retry-1');
SELECT payment_status, payment_due_at FROM order_mgmt.orders WHERE order_id = :p1;
SELECT order_mgmt.add_note(3000, :p1, 'admin', 'called the customer');
SELECT payment_status FROM order_mgmt.orders WHERE order_id = :p1;

-- the auto-cancels, at 12:00 and a bit later
SET order_mgmt.clock = '2020-05-01 12:30+00';
SELECT order_mgmt.run_due(10) AS done;
SELECT order_no, status, cancel_source, cancel_reason FROM order_mgmt.orders WHERE order_id IN (:p1, :p2) ORDER BY order_id;

-- reactivated: the merchant owns the order, no deadline (not in the index)
SELECT order_mgmt.reactivate(3000, :p2);
SELECT status, payment_status, payment_due_at FROM order_mgmt.orders WHERE order_id = :p2;
SELECT order_mgmt.mark_paid(3000, :p2);

-- several timeouts go as one set; run_due_shop finds them in orders too
SELECT order_mgmt.checkout(3000, '[{"sku": "A", "qty": 1}]', order_no => 'S' || i) IS NOT NULL AS ok
FROM generate_series(1, 3) i;
SET order_mgmt.clock = '2020-05-01 13:01+00';
SELECT order_mgmt.run_due_shop(3001) AS other_shop;
SELECT order_mgmt.run_due_shop(3000, 100) AS done;
SELECT order_no, payment_status FROM order_mgmt.orders WHERE order_no LIKE 'S_' AND shop_id = 3000 ORDER BY 1;

-- a timeout that fails backs off: run_due() warns, and the timeout
-- becomes a due_action row with the failure counted, due again a minute
-- later; until then neither run_due() nor an API call applies it
SELECT order_mgmt.checkout(3000, '[{"sku": "A", "qty": 1}]', order_no => 'F') AS f \gset
ALTER TABLE order_mgmt.orders ADD CONSTRAINT f_never_fails
	CHECK (shop_id <> 3000 OR order_no <> 'F' OR payment_status <> 'failed');
SET order_mgmt.clock = '2020-05-01 14:00+00';
SELECT order_mgmt.run_due_shop(3000, 100) AS done;
SELECT action, due_at, attempts, last_error, failed_at FROM order_mgmt.due_action WHERE order_id = :f;
SET order_mgmt.clock = '2020-05-01 14:00:30+00';
SELECT order_mgmt.run_due_shop(3000, 100) AS done;
SELECT order_mgmt.add_note(3000, :f, 'admin', 'still unpaid');
SELECT payment_status FROM order_mgmt.orders WHERE order_id = :f;
-- failing again at 14:01: two minutes
SET order_mgmt.clock = '2020-05-01 14:01+00';
\set VERBOSITY terse
SELECT order_mgmt.run_due_shop(3000, 100) AS done;
\set VERBOSITY default
SELECT action, due_at, attempts, failed_at FROM order_mgmt.due_action WHERE order_id = :f;
-- the cause gone, it times out at its new due_at and its row goes
ALTER TABLE order_mgmt.orders DROP CONSTRAINT f_never_fails;
SET order_mgmt.clock = '2020-05-01 14:03+00';
SELECT order_mgmt.run_due(100) AS done;
SELECT payment_status FROM order_mgmt.orders WHERE order_id = :f;
SELECT order_id - :p1 AS n, action, attempts FROM order_mgmt.due_action WHERE shop_id = 3000 ORDER BY 1, 2;

-- a failing timeout of an order paid meanwhile: the payment drops its row
SELECT order_mgmt.checkout(3000, '[{"sku": "A", "qty": 1}]', order_no => 'G') AS g \gset
ALTER TABLE order_mgmt.orders ADD CONSTRAINT g_never_fails
	CHECK (shop_id <> 3000 OR order_no <> 'G' OR payment_status <> 'failed');
SET order_mgmt.clock = '2020-05-01 15:00+00';
\set VERBOSITY terse
SELECT order_mgmt.run_due(100) AS done;
\set VERBOSITY default
ALTER TABLE order_mgmt.orders DROP CONSTRAINT g_never_fails;
SELECT count(*) AS g_failing FROM order_mgmt.due_action WHERE order_id = :g AND attempts > 0;
SELECT order_mgmt.mark_paid(3000, :g);
SELECT count(*) AS g_deadlines FROM order_mgmt.due_action WHERE order_id = :g;

-- the rest of the auto-cancels; nothing of the shop is left due
SET order_mgmt.clock = '2020-05-01 17:00+00';
SELECT order_mgmt.run_due(100) AS done;
SELECT count(*) AS due_rows FROM order_mgmt.due_action WHERE shop_id = 3000 AND action <> 'auto_archive';
SELECT count(*) AS awaiting_payment FROM order_mgmt.orders
WHERE shop_id = 3000 AND payment_due_at IS NOT NULL AND status IN ('pending', 'confirmed')
  AND payment_status IN ('unpaid', 'pending');
-- the largest max_actions: the batch's rows are allocated as they come
-- (the fuzzer's run_due(2147483647) asked for 2^31 rows at once)
SELECT order_mgmt.run_due_shop(3000, 2147483647) AS done_with_the_largest_batch;
RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify(3000);
