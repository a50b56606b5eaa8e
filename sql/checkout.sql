-- checkout() (SPEC §4.1, §6): validates everything, holds stock in one call,
-- changes nothing when it fails.
SET order_mgmt.clock = '2026-06-01 10:00+00';
SELECT order_mgmt.create_shop(70, 'Checkout shop', 'TWD');
SELECT setval('order_mgmt.order_id_seq', 700000);
SELECT order_mgmt.upsert_sku(70, 'A', 100);
SELECT order_mgmt.upsert_sku(70, 'B', 50.5);
SELECT order_mgmt.upsert_sku(70, 'EBOOK', 120, digital => true);
SELECT order_mgmt.upsert_sku(70, 'KEYS', 30, digital => true);
SELECT order_mgmt.upsert_sku(70, 'PRE', 999, allow_backorder => true);
SELECT order_mgmt.set_stock(70, 'A', 5);
SELECT order_mgmt.set_stock(70, 'B', 10);
SELECT order_mgmt.set_stock(70, 'KEYS', 2);
SELECT order_mgmt.upsert_customer(70, 'mary', 'Mary@Example.com');

-- repeated SKUs are summed, prices come from sku, lines are in SKU order
SELECT order_mgmt.checkout(70, '[{"sku": "B", "qty": 1}, {"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]',
						   customer_id => 'mary', shipping_fee => 60, order_no => 'CO-1') AS o1 \gset
SELECT order_no, customer_id, email, email_key, status, payment_status, delivery_status, currency,
	   subtotal, discount, shipping_fee, total, payment_due_at, created_at
FROM order_mgmt.orders WHERE order_id = :o1;
SELECT line_no, sku, qty, unit_price, discount FROM order_mgmt.order_line WHERE order_id = :o1 ORDER BY line_no;
SELECT sku, bucket, qty, state FROM order_mgmt.reservation WHERE order_id = :o1 ORDER BY sku;
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level WHERE shop_id = 70 ORDER BY sku;
SELECT action, due_at FROM order_mgmt.due_action WHERE order_id = :o1;
SELECT kind, detail FROM order_mgmt.order_event WHERE order_id = :o1;

-- digital goods without stock rows are not held; with stock rows they are
SELECT order_mgmt.checkout(70, '[{"sku": "EBOOK", "qty": 3}, {"sku": "KEYS", "qty": 2}]') AS o2 \gset
SELECT sku, qty FROM order_mgmt.reservation WHERE order_id = :o2 ORDER BY sku;
SELECT sku, available FROM order_mgmt.stock_level WHERE shop_id = 70 AND sku = 'KEYS';

-- backorder: sold beyond stock
SELECT order_mgmt.checkout(70, '[{"sku": "PRE", "qty": 4}]') AS o3 \gset
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level WHERE shop_id = 70 AND sku = 'PRE';

-- integrated and cod orders start not_executed; a hold sets hold_until; a payment_timeout argument wins
SELECT order_mgmt.checkout(70, '[{"sku": "B", "qty": 1}]', logistics => 'cod', hold => '10 minutes',
						   payment_timeout => '2 hours', email => 'guest@example.com') AS o4 \gset
SELECT delivery_status, hold_until, payment_due_at, email_key FROM order_mgmt.orders WHERE order_id = :o4;

-- the idempotency key returns the first order and holds nothing twice
SELECT order_mgmt.checkout(70, '[{"sku": "B", "qty": 1}]', idempotency_key => 'cart-77') AS o5 \gset
SELECT order_mgmt.checkout(70, '[{"sku": "B", "qty": 5}]', idempotency_key => 'cart-77') = :o5 AS same_order;
SELECT count(*) AS orders_with_key FROM order_mgmt.orders WHERE shop_id = 70 AND idempotency_key = 'cart-77';
SELECT available FROM order_mgmt.stock_level WHERE shop_id = 70 AND sku = 'B';

-- insufficient stock: OM001 naming sku, requested and available; nothing changes
SELECT count(*) AS orders_before FROM order_mgmt.orders WHERE shop_id = 70;
SELECT order_mgmt.checkout(70, '[{"sku": "B", "qty": 1}, {"sku": "A", "qty": 4}]');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS orders_after FROM order_mgmt.orders WHERE shop_id = 70;
SELECT sku, reserved FROM order_mgmt.stock_level WHERE shop_id = 70 AND sku IN ('A', 'B') ORDER BY sku;

-- money in the shop currency's minor units (ICU): JPY has none
SELECT order_mgmt.create_shop(71, 'Tokyo shop', 'JPY', 'ja-JP', 'Asia/Tokyo');
SELECT order_mgmt.upsert_sku(71, 'T', 333);
SELECT order_mgmt.set_stock(71, 'T', 10);
SELECT order_mgmt.create_promo(71, 'SEVEN', 'percent', 7);
SELECT order_mgmt.checkout(71, '[{"sku": "T", "qty": 1}]', promo_code => 'seven') AS o6 \gset
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :o6;

-- bad lines: 22023 naming the element
SELECT order_mgmt.checkout(70, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '{"sku": "A", "qty": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[1]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1}, {"qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A"}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 0}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": -3}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1.5}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 100001}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1e30}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": "2"}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": null}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": 7, "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, E'[{"sku": "A\\u200b", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1, "price": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 60000}, {"sku": "A", "qty": 60000}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "NOPE", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, (SELECT jsonb_agg(jsonb_build_object('sku', 'A', 'qty', 1)) FROM generate_series(1, 1001)));
\echo :LAST_ERROR_SQLSTATE

-- bad arguments
SELECT order_mgmt.checkout(999, '[{"sku": "A", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1}]', customer_id => 'nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1}]', email => 'not an email');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1}]', shipping_fee => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1}]', shipping_fee => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1}]', payment_timeout => '-1 minute');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1}]', logistics => 'drone');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1}]', order_no => 'CO-1');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(70, '[{"sku": "A", "qty": 1}]', idempotency_key => '');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS orders_still FROM order_mgmt.orders WHERE shop_id = 70;
SELECT sku, reserved FROM order_mgmt.stock_level WHERE shop_id = 70 AND sku IN ('A', 'B') ORDER BY sku;

-- hot SKU over 4 buckets of one unit each: every unit sells, in any bucket
SELECT order_mgmt.upsert_sku(70, 'HOT', 10, stock_buckets => 4);
SELECT order_mgmt.set_stock(70, 'HOT', 4);
SELECT order_mgmt.checkout(70, '[{"sku": "HOT", "qty": 1}]') IS NOT NULL AS sold FROM generate_series(1, 3);
-- one unit left in some bucket: a checkout for it finds it
SELECT order_mgmt.checkout(70, '[{"sku": "HOT", "qty": 1}]') IS NOT NULL AS last_unit_sold;
SELECT order_mgmt.checkout(70, '[{"sku": "HOT", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT bucket, on_hand, reserved FROM order_mgmt.stock WHERE shop_id = 70 AND sku = 'HOT' ORDER BY bucket;
-- a line bigger than any one bucket takes units from several
SELECT order_mgmt.set_stock(70, 'HOT', 7);
SELECT order_mgmt.checkout(70, '[{"sku": "HOT", "qty": 3}]') AS o7 \gset
SELECT count(*) AS reservations, sum(qty) AS units FROM order_mgmt.reservation WHERE order_id = :o7;
SELECT on_hand, reserved, available FROM order_mgmt.stock_level WHERE shop_id = 70 AND sku = 'HOT';

-- issue 19 (the fuzzer): idempotency_key is a key of a unique index, so it
-- is checked as an identifier: a 1 MB one is 22023, not the index's 54000
SELECT order_mgmt.create_shop(1791, 'Fuzz checkout');
SELECT order_mgmt.upsert_sku(1791, 'A', 100);
SELECT order_mgmt.set_stock(1791, 'A', 10);
SELECT order_mgmt.checkout(1791, '[{"sku": "A", "qty": 1}]', idempotency_key => repeat('k', 1048576));
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1791, '[{"sku": "A", "qty": 1}]', idempotency_key => E'cart\u200B1');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS orders FROM order_mgmt.orders WHERE shop_id = 1791;
SELECT reserved FROM order_mgmt.stock WHERE shop_id = 1791;

RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify();
