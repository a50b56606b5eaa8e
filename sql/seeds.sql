-- Issue 17: what the seed articles (../shared/seeds/) say, done as they
-- say it.  One section per item, headed by its seed; shop 1700.
SET order_mgmt.clock = '2026-12-01 10:00+00';
SELECT order_mgmt.create_shop(1700, 'Seed shop');
SELECT setval('order_mgmt.order_id_seq', 1700000);
SELECT order_mgmt.upsert_sku(1700, 'A', 100);
SELECT order_mgmt.set_stock(1700, 'A', 100);
-- run_due serves every shop: first finish what earlier tests left due
SELECT order_mgmt.run_due(100000) >= 0 AS flushed;
SELECT order_mgmt.run_due(100000) >= 0 AS flushed_auto_cancels;

-- ===========================================================================
-- Item 1, seed 000 (SHOPLINE, new order management): the payment time
-- limit is for online payment.  Cash on delivery gets no deadline by
-- default; a method the shop marks offline gets its own (payment_timeouts).
-- ===========================================================================
SELECT payment_timeout, payment_timeouts FROM order_mgmt.shop WHERE shop_id = 1700;
SELECT order_mgmt.update_shop(1700, '{"auto_cancel_failed": true}');
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"cod": null, "bank_transfer": "3 days"}}');
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', logistics => 'cod') AS cod1 \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', payment_method => 'cod') AS cod2 \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', payment_method => 'bank_transfer') AS bank \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]') AS card \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', logistics => 'cod', payment_timeout => '1 hour') AS cod3 \gset
SELECT order_id - :cod1 AS n, logistics, payment_method, payment_due_at - created_at AS limit
  FROM order_mgmt.orders WHERE shop_id = 1700 ORDER BY order_id;
SELECT order_id - :cod1 AS n, action, due_at FROM order_mgmt.due_action WHERE shop_id = 1700 ORDER BY 1, 2;
-- 30 minutes on: the card order failed and was cancelled; COD and transfer wait
SET order_mgmt.clock = '2026-12-01 10:30+00';
SELECT order_mgmt.run_due() > 0 AS ran;
SELECT order_mgmt.run_due() >= 0 AS ran;
SELECT order_id - :cod1 AS n, status, payment_status FROM order_mgmt.orders WHERE shop_id = 1700 ORDER BY order_id;
SET order_mgmt.clock = '2026-12-04 10:00+00';
SELECT order_mgmt.run_due() > 0 AS ran;
SELECT order_mgmt.run_due() >= 0 AS ran;
SELECT order_id - :cod1 AS n, status, payment_status, cancel_reason FROM order_mgmt.orders WHERE shop_id = 1700 ORDER BY order_id;
-- the setting is validated (22023) and replaced whole
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": "3 days"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": null}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"bank_transfer": "soon"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"bank_transfer": "-1 day"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"bank_transfer": 3}}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"": null}}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"cod": "2 days"}}');
SELECT payment_timeouts FROM order_mgmt.shop WHERE shop_id = 1700;
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"cod": null}}');
