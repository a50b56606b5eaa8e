-- Promo codes (SPEC §5): every check with its own SQLSTATE, claims and
-- releases through the ledger, used = active redemptions.
SET order_mgmt.clock = '2026-07-01 12:00+00';
SELECT order_mgmt.create_shop(80, 'Promo shop');
-- order ids of this file's own, so that messages do not depend on other tests
SELECT setval('order_mgmt.order_id_seq', 800000);
SELECT order_mgmt.upsert_sku(80, 'A', 100);
SELECT order_mgmt.set_stock(80, 'A', 100);
SELECT order_mgmt.upsert_customer(80, 'ann', 'ann@example.com');
SELECT order_mgmt.upsert_customer(80, 'bob', 'bob@example.com');

-- create_promo: keys are normalized
SELECT order_mgmt.create_promo(80, 'ＳＡＬＥ１０', 'percent', 10);
SELECT order_mgmt.create_promo(80, 'ONCE', 'amount', 30, usage_limit => 1);
SELECT order_mgmt.create_promo(80, 'TWICE-EACH', 'amount', 5, per_customer_limit => 2);
SELECT order_mgmt.create_promo(80, 'BIG', 'amount', 500, min_subtotal => 300);
SELECT order_mgmt.create_promo(80, 'SHIPFREE', 'free_shipping', 0);
SELECT order_mgmt.create_promo(80, 'JULY', 'percent', 5, starts_at => '2026-07-01 00:00+00', ends_at => '2026-08-01 00:00+00');
SELECT order_mgmt.create_promo(80, 'ANN-ONLY', 'percent', 20, customer_id => 'ann');
SELECT code_key, code, kind, value, usage_limit, per_customer_limit, min_subtotal, customer_id, used
FROM order_mgmt.promo_code WHERE shop_id = 80 ORDER BY code_key;

-- create_promo: bad input
SELECT order_mgmt.create_promo(80, ' sale10 ', 'percent', 10);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(80, 'P', 'percent', 101);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(80, 'P', 'amount', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(80, 'P', 'amount', 'NaN');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(80, 'P', 'bogus', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(80, 'P', 'amount', 1, usage_limit => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(80, 'P', 'amount', 1, per_customer_limit => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(80, 'P', 'amount', 1, min_subtotal => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(80, 'P', 'amount', 1, starts_at => '2026-08-01', ends_at => '2026-07-01');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(80, 'P', 'amount', 1, customer_id => 'nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(80, '   ', 'amount', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(999, 'P', 'amount', 1);
\echo :LAST_ERROR_SQLSTATE

-- discounts: percent, amount (never above the subtotal), free shipping
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 3}]', promo_code => ' sale10 ') AS o \gset
SELECT subtotal, discount, shipping_fee, total, promo_code, promo_key FROM order_mgmt.orders WHERE order_id = :o;
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'once') AS o_once \gset
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :o_once;
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'ShipFree', shipping_fee => 80) AS o \gset
SELECT subtotal, discount, shipping_fee, total FROM order_mgmt.orders WHERE order_id = :o;

-- OM002: unknown, inactive, outside its dates, minimum not met, someone else's
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'NOPE');
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.promo_code SET active = false WHERE shop_id = 80 AND code_key = 'july';
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'JULY');
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.promo_code SET active = true WHERE shop_id = 80 AND code_key = 'july';
SET order_mgmt.clock = '2026-08-01 00:00+00';
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'JULY');
\echo :LAST_ERROR_SQLSTATE
SET order_mgmt.clock = '2026-07-31 23:59+00';
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'JULY') IS NOT NULL AS july_ok;
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 2}]', promo_code => 'BIG');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 3}]', promo_code => 'BIG') AS o \gset
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :o;
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'ANN-ONLY', customer_id => 'bob');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'ANN-ONLY');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'ANN-ONLY', customer_id => 'ann') IS NOT NULL AS ann_ok;

-- OM003: used up; a failed checkout holds no stock
SELECT available FROM order_mgmt.stock_level WHERE shop_id = 80;
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'ONCE');
\echo :LAST_ERROR_SQLSTATE
SELECT available FROM order_mgmt.stock_level WHERE shop_id = 80;

-- OM004: per customer, by customer_id or by normalized e-mail for guests
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'TWICE-EACH', customer_id => 'ann') IS NOT NULL AS first;
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'TWICE-EACH', customer_id => 'ann') AS ann2 \gset
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'TWICE-EACH', customer_id => 'ann');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'TWICE-EACH', customer_id => 'bob') IS NOT NULL AS bob_ok;
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'TWICE-EACH', email => 'guest@example.com') IS NOT NULL AS guest1;
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'TWICE-EACH', email => 'GUEST@example.com ') IS NOT NULL AS guest2;
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'TWICE-EACH', email => 'Guest@Example.com');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'TWICE-EACH');
\echo :LAST_ERROR_SQLSTATE

-- cancelling releases the claim: the code is usable again (seed 000)
SELECT order_mgmt.cancel(80, :o_once);
SELECT used FROM order_mgmt.promo_code WHERE shop_id = 80 AND code_key = 'once';
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'ONCE') IS NOT NULL AS once_again;
SELECT order_mgmt.cancel(80, :ann2);
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => 'TWICE-EACH', customer_id => 'ann') IS NOT NULL AS ann_again;
SELECT kind, detail FROM order_mgmt.order_event WHERE order_id = :o_once AND kind IN ('promo_release', 'release') ORDER BY event_id;

-- a code without a limit keeps used at 0; the ledger counts it
SELECT code_key, usage_limit, used, released FROM order_mgmt.promo_usage WHERE shop_id = 80 ORDER BY code_key;
SELECT code_key, used FROM order_mgmt.promo_code WHERE shop_id = 80 AND usage_limit IS NULL ORDER BY code_key;

-- win-back codes (seed 003): personal, single use, for a cancelled order's customer
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', customer_id => 'bob') AS lost \gset
SELECT order_mgmt.issue_winback_code(80, :lost);
\echo :LAST_ERROR_SQLSTATE
-- (the customer's own cancellation, recorded by a superuser: cancel() claims no customer source)
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'shipping_cost',
	cancel_note = 'too expensive to ship', cancel_source = 'customer'
WHERE shop_id = 80 AND order_id = :lost;
SELECT order_mgmt.issue_winback_code(80, :lost, value => 15) AS winback \gset
SELECT order_mgmt.issue_winback_code(80, :lost, value => 15) = :'winback' AS same_code;
SELECT kind, value, usage_limit, customer_id, ends_at - starts_at AS valid_for
FROM order_mgmt.promo_code WHERE shop_id = 80 AND code_key = :'winback';
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => :'winback', customer_id => 'ann');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', promo_code => :'winback', customer_id => 'bob') IS NOT NULL AS bob_back;
SELECT order_mgmt.checkout(80, '[{"sku": "A", "qty": 1}]', email => 'x@example.com') AS guest_order \gset
SELECT order_mgmt.cancel(80, :guest_order);
-- a guest order's code goes to its e-mail (issue 17 item 12, sql/seeds.sql)
SELECT order_mgmt.issue_winback_code(80, :guest_order);
SELECT order_mgmt.issue_winback_code(80, 424242);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.issue_winback_code(80, :lost, valid_for => '-1 day');
\echo :LAST_ERROR_SQLSTATE

RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify();
