-- Cancel and reactivate (SPEC §7), the seed 000 Mary/John story, shipment
-- committing stock (§4.2), and parity of the API with a plain UPDATE.
SET order_mgmt.clock = '2026-09-01 09:00+00';
SELECT order_mgmt.create_shop(110, 'Story shop');
SELECT setval('order_mgmt.order_id_seq', 1100000);
SELECT order_mgmt.update_shop(110, '{"auto_cancel_failed": true}');
SELECT order_mgmt.upsert_sku(110, 'A', 500);
SELECT order_mgmt.upsert_customer(110, 'mary', 'mary@example.com');
SELECT order_mgmt.upsert_customer(110, 'john', 'john@example.com');

-- Seed 000, stock: SKU A has 1 unit.  Mary checks out A (available 1 -> 0).
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]', customer_id => 'mary') AS mary \gset
SELECT available FROM order_mgmt.stock_level WHERE shop_id = 110;
-- Her payment fails; the shop auto-cancels: available 0 -> 1.
SELECT order_mgmt.payment_failed(110, :mary, 'card declined');
SET order_mgmt.clock = '2026-09-01 09:01+00';
SELECT order_mgmt.run_due() > 0 AS swept;	-- run_due serves every shop: the count is not ours
SELECT status, payment_status, cancel_source, cancel_reason FROM order_mgmt.orders WHERE order_id = :mary;
SELECT available FROM order_mgmt.stock_level WHERE shop_id = 110;
-- John checks out A and pays: available 1 -> 0.
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]', customer_id => 'john') AS john \gset
SELECT order_mgmt.payment_succeeded(110, :john, 500, 'pay-john');
SELECT available FROM order_mgmt.stock_level WHERE shop_id = 110;
-- Mary wants to pay another way; the merchant reactivates her order: OM001,
-- and her order stays cancelled, its record intact.
SELECT order_mgmt.reactivate(110, :mary);
\echo :LAST_ERROR_SQLSTATE
SELECT status, payment_status, cancelled_at IS NOT NULL AS cancelled FROM order_mgmt.orders WHERE order_id = :mary;
SELECT kind, from_value, to_value, actor FROM order_mgmt.order_event WHERE order_id = :mary ORDER BY event_id;

-- Seed 000, promo: a single-use code John used after Mary's order released it.
SELECT order_mgmt.set_stock(110, 'A', 5);
SELECT order_mgmt.create_promo(110, 'WELCOME', 'amount', 50, usage_limit => 1);
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]', customer_id => 'mary', promo_code => 'WELCOME') AS mary2 \gset
SELECT order_mgmt.cancel(110, :mary2, 'payment_failed', source => 'system');
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]', customer_id => 'john', promo_code => 'welcome') AS john2 \gset
SELECT order_mgmt.reactivate(110, :mary2);
\echo :LAST_ERROR_SQLSTATE
SELECT status FROM order_mgmt.orders WHERE order_id = :mary2;
-- when the code comes free again, reactivation re-claims it and holds the stock
-- (the customer's own cancellation, recorded by a superuser: cancel() claims no customer source)
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'changed_mind', cancel_source = 'customer'
WHERE shop_id = 110 AND order_id = :john2;
SELECT order_mgmt.reactivate(110, :mary2, 'pending');
SELECT status, reactivated_at IS NOT NULL AS reactivated, payment_due_at FROM order_mgmt.orders WHERE order_id = :mary2;
SELECT code_key, order_id = :mary2 AS mary, state FROM order_mgmt.promo_redemption WHERE shop_id = 110 ORDER BY order_id;
SELECT kind, detail FROM order_mgmt.order_event WHERE order_id = :mary2 AND kind IN ('reserve', 'promo_claim') ORDER BY event_id;

-- cancel: reasons and sources recorded; OM005 once shipped; OM007 unknown
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]', customer_id => 'john') AS o \gset
SELECT order_mgmt.cancel(110, :o, 'found_better_price', 'saw it cheaper', 'merchant');
SELECT status, cancel_source, cancel_reason, cancel_note FROM order_mgmt.orders WHERE order_id = :o;
-- cancelling again changes nothing (callers may retry)
SELECT order_mgmt.cancel(110, :o, 'other', 'second try');
SELECT status, cancel_source, cancel_reason, cancel_note FROM order_mgmt.orders WHERE order_id = :o;
SELECT order_mgmt.cancel(110, 424242);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.cancel(110, :o, reason => 'bored');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.cancel(110, :o, reason => NULL);
\echo :LAST_ERROR_SQLSTATE

-- confirm, then ship: held stock is committed (on_hand and reserved drop)
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 2}]', customer_id => 'john') AS o \gset
SELECT order_mgmt.confirm(110, :o);
SELECT order_mgmt.confirm(110, :o);
SELECT on_hand, reserved, available FROM order_mgmt.stock_level WHERE shop_id = 110;
UPDATE order_mgmt.orders SET delivery_status = 'shipped' WHERE order_id = :o;
SELECT on_hand, reserved, available FROM order_mgmt.stock_level WHERE shop_id = 110;
SELECT state, resolved_at FROM order_mgmt.reservation WHERE order_id = :o;
SELECT order_mgmt.cancel(110, :o);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.reactivate(110, :o);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.reactivate(110, :o, 'completed');
\echo :LAST_ERROR_SQLSTATE

-- parity: a plain UPDATE cancels and reactivates exactly as the API does
SELECT order_mgmt.create_promo(110, 'ONE', 'amount', 10, usage_limit => 1);
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]', customer_id => 'john', promo_code => 'ONE') AS o \gset
SELECT available, (SELECT used FROM order_mgmt.promo_code WHERE shop_id = 110 AND code_key = 'one') AS used
FROM order_mgmt.stock_level WHERE shop_id = 110;
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE order_id = :o;
SELECT available, (SELECT used FROM order_mgmt.promo_code WHERE shop_id = 110 AND code_key = 'one') AS used
FROM order_mgmt.stock_level WHERE shop_id = 110;
UPDATE order_mgmt.orders SET status = 'confirmed' WHERE order_id = :o;
SELECT available, (SELECT used FROM order_mgmt.promo_code WHERE shop_id = 110 AND code_key = 'one') AS used
FROM order_mgmt.stock_level WHERE shop_id = 110;
SELECT kind, from_value, to_value, detail FROM order_mgmt.order_event WHERE order_id = :o ORDER BY event_id;

-- a reactivation refused by stock leaves nothing half done
SELECT order_mgmt.set_stock(110, 'A', 3);
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE order_id = :o;
SELECT order_mgmt.checkout(110, '[{"sku": "A", "qty": 1}]') IS NOT NULL AS someone_else_buys;
UPDATE order_mgmt.orders SET status = 'confirmed' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
SELECT status, (SELECT used FROM order_mgmt.promo_code WHERE shop_id = 110 AND code_key = 'one') AS used
FROM order_mgmt.orders WHERE order_id = :o;

RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify();
