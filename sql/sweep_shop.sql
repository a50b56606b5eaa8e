-- run_due_shop(shop_id, max_actions): one shop's due actions (issue 16).
-- On Citus it is distributed by shop_id and runs on the shop's worker
-- (docs/citus.md); on one node it is run_due() for that shop only.  The
-- clock is set before the deadlines the other tests leave.
SET order_mgmt.clock = '2021-02-01 10:00+00';
SELECT order_mgmt.create_shop(s, 'Sweep shop ' || s) FROM generate_series(260, 261) s;
SELECT setval('order_mgmt.order_id_seq', 2600000);
SELECT order_mgmt.upsert_sku(s, 'A', 100) FROM generate_series(260, 261) s;
SELECT order_mgmt.set_stock(s, 'A', 10) FROM generate_series(260, 261) s;
-- three orders in shop 260, two in shop 261, all due by 10:30
SELECT order_mgmt.checkout(s, '[{"sku": "A", "qty": 1}]', order_no => 'S' || s || '-' || i) IS NOT NULL AS ok
FROM generate_series(260, 261) s, generate_series(1, 3) i WHERE s = 260 OR i <= 2;
SET order_mgmt.clock = '2021-02-01 11:00+00';
-- two of shop 260's, then the third; shop 261's are left
SELECT order_mgmt.run_due_shop(260, 2) AS done;
SELECT order_mgmt.run_due_shop(260) AS done;
SELECT order_mgmt.run_due_shop(260) AS done;
SELECT shop_id, order_no, payment_status FROM order_mgmt.orders WHERE shop_id IN (260, 261) ORDER BY 1, 2;
SELECT shop_id, sku, available FROM order_mgmt.stock_level WHERE shop_id IN (260, 261) ORDER BY 1;
-- a shop with nothing due, and one that does not exist: 0
SELECT order_mgmt.run_due_shop(999) AS done;
-- bad arguments
SELECT order_mgmt.run_due_shop(260, 0);
SELECT order_mgmt.run_due_shop(260, NULL);
SELECT order_mgmt.run_due_shop(NULL, 10);
-- run_due(max_actions) is unchanged: it takes shop 261's too
SELECT order_mgmt.run_due(1000) AS done;
SELECT shop_id, order_no, payment_status FROM order_mgmt.orders WHERE shop_id = 261 ORDER BY 1, 2;
SELECT count(*) AS problems FROM order_mgmt.verify(260);
SELECT count(*) AS problems FROM order_mgmt.verify(261);
-- for the admin, as run_due is
SELECT has_function_privilege('order_mgmt_admin', 'order_mgmt.run_due_shop(bigint, integer)', 'execute') AS admin,
	   has_function_privilege('order_mgmt_app', 'order_mgmt.run_due_shop(bigint, integer)', 'execute') AS app;
RESET order_mgmt.clock;
