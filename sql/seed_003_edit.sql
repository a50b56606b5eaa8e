-- Issue 18, seeds 002 and 003: support staff edit an order after checkout
-- instead of asking the customer to start again (ShopEx: changing the price,
-- 改價, is a basic support operation; Metrilo: offer another size or colour
-- instead of letting the order be cancelled).  edit_order() judges every
-- edit by checkout's rules, atomically.  Shops 1760-1769.
SET order_mgmt.clock = '2026-12-10 10:00+00';
SET TimeZone = 'UTC';
SELECT order_mgmt.create_shop(1760, 'Edit shop');
SELECT setval('order_mgmt.order_id_seq', 1760000);
SELECT order_mgmt.upsert_sku(1760, 'TEE-M', 500, product_id => 'TEE', attrs => '{"size": "M"}');
SELECT order_mgmt.upsert_sku(1760, 'TEE-L', 500, product_id => 'TEE', attrs => '{"size": "L"}');
SELECT order_mgmt.upsert_sku(1760, 'MUG', 200, product_id => 'MUG');
SELECT order_mgmt.upsert_sku(1760, 'EBOOK', 90, digital => true);
SELECT order_mgmt.upsert_sku(1760, 'CAP', 150, product_id => 'CAP', stock_buckets => 3);
SELECT order_mgmt.set_stock(1760, 'TEE-M', 5);
SELECT order_mgmt.set_stock(1760, 'TEE-L', 5);
SELECT order_mgmt.set_stock(1760, 'MUG', 3);
SELECT order_mgmt.set_stock(1760, 'CAP', 9);
SELECT order_mgmt.upsert_customer(1760, 'mary', 'mary@example.com');
SELECT order_mgmt.create_promo(1760, 'TENOFF', 'percent', 10);
SELECT order_mgmt.create_promo(1760, 'ONCE', 'amount', 100, usage_limit => 1);
SELECT order_mgmt.create_promo(1760, 'BIG', 'amount', 50, min_subtotal => 1000);

CREATE FUNCTION pg_temp.stock(p_shop bigint) RETURNS TABLE (sku text, on_hand bigint, reserved bigint)
	LANGUAGE sql AS $$
	SELECT sku, sum(on_hand), sum(reserved) FROM order_mgmt.stock WHERE shop_id = p_shop
	GROUP BY sku ORDER BY sku $$;
CREATE FUNCTION pg_temp.lines(p_order bigint) RETURNS TABLE (line_no int, sku text, qty int, unit_price numeric, discount numeric)
	LANGUAGE sql AS $$
	SELECT line_no, sku, qty, unit_price, discount FROM order_mgmt.order_line
	WHERE shop_id = 1760 AND order_id = p_order ORDER BY line_no $$;

-- ===========================================================================
-- Seed 003: Mary ordered a tee in L and is about to cancel because it is
-- too big.  Support offers M instead: the order is edited, stock moves from
-- L to M, the total stays, one event records it.
-- ===========================================================================
SELECT order_mgmt.checkout(1760, '[{"sku": "TEE-L", "qty": 1}, {"sku": "MUG", "qty": 1}]',
                           customer_id => 'mary') AS o \gset
SELECT lock_version AS v FROM order_mgmt.orders WHERE order_id = :o \gset
SELECT * FROM pg_temp.stock(1760);
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "swap", "line": 2, "sku": "TEE-M"}]',
                             'too big: size M instead of L', expected_version => :v) AS v2 \gset
SELECT * FROM pg_temp.lines(:o);
SELECT subtotal, discount, total, payment_status, lock_version = :v2 AS version_returned
  FROM order_mgmt.orders WHERE order_id = :o;
SELECT * FROM pg_temp.stock(1760);
SELECT kind, detail FROM order_mgmt.order_event WHERE order_id = :o AND kind = 'edit';
-- the same version again: another agent's edit of the old order loses
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "set_qty", "line": 1, "qty": 2}]', 'two mugs',
                             expected_version => :v);
\echo :LAST_ERROR_SQLSTATE

-- ===========================================================================
-- Quantities: more mugs, then the mug removed (qty 0, the row stays), a
-- line added at the SKU's price; stock follows each SKU.
-- ===========================================================================
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "set_qty", "line": 1, "qty": 3}]', 'three mugs') > :v2 AS newer;
SELECT * FROM pg_temp.stock(1760);
-- more than is left: OM001, nothing changed
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "set_qty", "line": 1, "qty": 4}]', 'four mugs');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "set_qty", "line": 1, "qty": 0}, {"op": "add", "sku": "CAP", "qty": 4}]',
                             'no mugs, caps instead') IS NOT NULL AS edited;
SELECT * FROM pg_temp.lines(:o);
SELECT * FROM pg_temp.stock(1760);
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :o;

-- ===========================================================================
-- Promo codes: applied to an existing order (seed 002: asking the buyer to
-- re-order for a promotion lost a fifth of them), replaced, removed; the
-- limits are claimed and released as at checkout.
-- ===========================================================================
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "promo", "code": "tenoff"}]', 'promised the promotion') IS NOT NULL AS edited;
SELECT * FROM pg_temp.lines(:o);
SELECT subtotal, discount, total, promo_code, promo_key FROM order_mgmt.orders WHERE order_id = :o;
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "promo", "code": "ONCE"}]', 'a better code') IS NOT NULL AS edited;
SELECT code_key, used FROM order_mgmt.promo_code WHERE shop_id = 1760 ORDER BY code_key;
SELECT r.code_key, r.state FROM order_mgmt.promo_redemption r WHERE r.shop_id = 1760 AND r.order_id = :o ORDER BY r.claimed_at, r.state;
-- ONCE is used up: another order cannot have it
SELECT order_mgmt.checkout(1760, '[{"sku": "MUG", "qty": 1}]') AS o2 \gset
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "promo", "code": "ONCE"}]', 'try');
\echo :LAST_ERROR_SQLSTATE
-- a code whose minimum the order does not reach; an unknown code
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "promo", "code": "BIG"}]', 'try');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "promo", "code": "NOPE"}]', 'try');
\echo :LAST_ERROR_SQLSTATE
-- removed: the use goes back
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "promo", "code": null}]', 'code withdrawn') IS NOT NULL AS edited;
SELECT code_key, used FROM order_mgmt.promo_code WHERE shop_id = 1760 AND code_key = 'once';
SELECT subtotal, discount, total, promo_code FROM order_mgmt.orders WHERE order_id = :o;
-- a kept code must still reach its minimum: BIG on a 1,150 order, then
-- lowering it below 1,000 is refused unless the code goes in the same edit
SELECT order_mgmt.checkout(1760, '[{"sku": "TEE-M", "qty": 2}, {"sku": "CAP", "qty": 1}]', promo_code => 'BIG') AS o3 \gset
SELECT order_mgmt.edit_order(1760, :o3, '[{"op": "set_qty", "line": 2, "qty": 1}]', 'one tee less');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o3, '[{"op": "set_qty", "line": 2, "qty": 1}, {"op": "promo", "code": null}]',
                             'one tee less, no code') IS NOT NULL AS edited;
SELECT subtotal, discount, total, promo_code FROM order_mgmt.orders WHERE order_id = :o3;

-- ===========================================================================
-- 改價: a line's price, by the merchant only (seed 002)
-- ===========================================================================
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "set_price", "line": 2, "unit_price": 450}]',
                             'matched a competitor''s price') IS NOT NULL AS edited;
SELECT * FROM pg_temp.lines(:o);
SELECT subtotal, total FROM order_mgmt.orders WHERE order_id = :o;
CREATE ROLE om_edit_app;
GRANT order_mgmt_app TO om_edit_app;
SET ROLE om_edit_app;
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "set_price", "line": 2, "unit_price": 1}]', 'sneaky');
\echo :LAST_ERROR_SQLSTATE
-- nor write the lines around the function
UPDATE order_mgmt.order_line SET unit_price = 1 WHERE shop_id = 1760 AND order_id = :o;
\echo :LAST_ERROR_SQLSTATE
-- the app role may change quantities
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "set_qty", "line": 3, "qty": 3}]', 'one cap less') IS NOT NULL AS edited;
RESET ROLE;
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "set_price", "line": 1, "unit_price": 0.001}]', 'too precise');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "set_price", "line": 1, "unit_price": -1}]', 'negative');
\echo :LAST_ERROR_SQLSTATE

-- ===========================================================================
-- Money: a paid order's difference is never lost.  Lowered: a refund is
-- owed (refunding); raised: an amount is due again (unpaid, no deadline).
-- ===========================================================================
SELECT total FROM order_mgmt.orders WHERE order_id = :o \gset
SELECT order_mgmt.payment_succeeded(1760, :o, :total, 'pay-o');
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "set_qty", "line": 3, "qty": 2}]', 'one cap less again') IS NOT NULL AS edited;
SELECT total, paid_amount, refunded_amount, payment_status FROM order_mgmt.orders WHERE order_id = :o;
SELECT order_mgmt.refund(1760, :o, 150, 'refund-cap');
SELECT order_mgmt.edit_order(1760, :o, '[{"op": "add", "sku": "MUG", "qty": 1}]', 'a mug after all') IS NOT NULL AS edited;
SELECT total, paid_amount, refunded_amount, payment_status, payment_due_at FROM order_mgmt.orders WHERE order_id = :o;
SELECT order_mgmt.payment_succeeded(1760, :o, 200, 'pay-o-mug');
SELECT total, paid_amount, refunded_amount, payment_status FROM order_mgmt.orders WHERE order_id = :o;
SELECT detail->'payment_status' AS moves FROM order_mgmt.order_event WHERE order_id = :o AND kind = 'edit' ORDER BY event_id;
-- only edit_order() makes those moves: a direct UPDATE cannot
UPDATE order_mgmt.orders SET payment_status = 'unpaid' WHERE shop_id = 1760 AND order_id = :o;
\echo :LAST_ERROR_SQLSTATE

-- ===========================================================================
-- Refused: malformed changes, unknown lines and SKUs, a swap to another
-- product, no units left, a blank reason; and once shipped, cancelled,
-- archived.  A failed edit changes nothing.
-- ===========================================================================
SELECT lock_version AS before_v, total AS before_total FROM order_mgmt.orders WHERE order_id = :o2 \gset
SELECT order_mgmt.edit_order(1760, :o2, '{"op": "set_qty"}', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[]', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "resize", "line": 1}]', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "set_qty", "line": 1}]', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "set_qty", "line": 1, "qty": 1.5}]', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "set_qty", "line": 9, "qty": 1}]', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "set_qty", "line": 1, "qty": 1, "sku": "MUG"}]', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "add", "sku": "NOPE", "qty": 1}]', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "swap", "line": 1, "sku": "TEE-M"}]', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "set_qty", "line": 1, "qty": 0}]', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "set_qty", "line": 1, "qty": 2}]', '   ');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "set_qty", "line": 1, "qty": 2}]', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.edit_order(1760, 1769999, '[{"op": "set_qty", "line": 1, "qty": 2}]', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT lock_version = :before_v AS unchanged, total = :before_total AS same_total
  FROM order_mgmt.orders WHERE order_id = :o2;
-- shipped
SELECT order_mgmt.mark_paid(1760, :o2);
SELECT order_mgmt.ship(1760, :o2) IS NOT NULL AS shipped;
SELECT order_mgmt.edit_order(1760, :o2, '[{"op": "set_qty", "line": 1, "qty": 2}]', 'x');
\echo :LAST_ERROR_SQLSTATE
-- cancelled
SELECT order_mgmt.checkout(1760, '[{"sku": "MUG", "qty": 1}]') AS o4 \gset
SELECT order_mgmt.cancel(1760, :o4);
SELECT order_mgmt.edit_order(1760, :o4, '[{"op": "set_qty", "line": 1, "qty": 2}]', 'x');
\echo :LAST_ERROR_SQLSTATE

-- digital lines hold no stock; the edit event is in the outbox
SELECT order_mgmt.checkout(1760, '[{"sku": "EBOOK", "qty": 1}]') AS o5 \gset
SELECT order_mgmt.edit_order(1760, :o5, '[{"op": "set_qty", "line": 1, "qty": 2}, {"op": "add", "sku": "MUG", "qty": 1}]',
                             'a gift copy and a mug') IS NOT NULL AS edited;
SELECT * FROM pg_temp.lines(:o5);
SELECT detail->'held' AS held FROM order_mgmt.order_event WHERE order_id = :o5 AND kind = 'edit';

-- a code limited to a product (seed 003: a coupon for the products the
-- customer first chose) discounts only its lines, and an edit that leaves
-- none of them is refused while the code stays
SELECT order_mgmt.create_promo(1760, 'TEE20', 'percent', 20, products => ARRAY['TEE']);
SELECT order_mgmt.edit_order(1760, :o3, '[{"op": "promo", "code": "TEE20"}]', 'coupon for the tee') IS NOT NULL AS edited;
SELECT * FROM pg_temp.lines(:o3);
SELECT subtotal, discount, total, promo_code FROM order_mgmt.orders WHERE order_id = :o3;
SELECT order_mgmt.edit_order(1760, :o3, '[{"op": "set_qty", "line": 2, "qty": 0}, {"op": "add", "sku": "MUG", "qty": 1}]', 'no tee');
\echo :LAST_ERROR_SQLSTATE

-- a shop may open set_price to its app role (app_sets_prices)
SELECT order_mgmt.update_shop(1760, '{"app_sets_prices": true}');
SET ROLE om_edit_app;
SELECT order_mgmt.edit_order(1760, :o5, '[{"op": "set_price", "line": 1, "unit_price": 80}]', 'bundle price') IS NOT NULL AS edited;
RESET ROLE;
SELECT order_mgmt.update_shop(1760, '{"app_sets_prices": false}');
SELECT * FROM pg_temp.lines(:o5);

-- a removed line stays (qty 0) but is not among a cancelled order's products
SELECT order_mgmt.checkout(1760, '[{"sku": "CAP", "qty": 1}, {"sku": "TEE-L", "qty": 1}]') AS o6 \gset
SELECT order_mgmt.edit_order(1760, :o6, '[{"op": "set_qty", "line": 1, "qty": 0}]', 'no cap') IS NOT NULL AS edited;
SELECT order_mgmt.cancel(1760, :o6, 'changed_mind');
SELECT products, total FROM order_mgmt.report_cancellations(1760, '2026-12-10', '2026-12-10') WHERE order_id = :o6;

SELECT * FROM pg_temp.stock(1760);
SELECT * FROM order_mgmt.verify(1760);
DROP ROLE om_edit_app;
-- issue 19 (the fuzzer): an edit that raises a paid order's total makes it
-- owe money again (unpaid); it keeps paid_at, and verify() accepts that
SELECT order_mgmt.create_shop(1794, 'Fuzz edit');
SELECT order_mgmt.upsert_sku(1794, 'A', 100);
SELECT order_mgmt.set_stock(1794, 'A', 10);
SELECT order_mgmt.checkout(1794, '[{"sku": "A", "qty": 1}]') AS fe \gset
SELECT order_mgmt.payment_succeeded(1794, :fe, 100, 'fz-e1');
SELECT order_mgmt.edit_order(1794, :fe, '[{"op": "set_qty", "line": 1, "qty": 2}]', 'one more') > 0 AS edited;
SELECT payment_status, paid_amount, total, paid_at IS NOT NULL AS has_paid_at FROM order_mgmt.orders WHERE shop_id = 1794;
SELECT order_mgmt.payment_failed(1794, :fe, 'declined', 'fz-e2');
SELECT * FROM order_mgmt.verify(1794);
SELECT order_mgmt.payment_succeeded(1794, :fe, 100, 'fz-e3');
SELECT payment_status, paid_amount FROM order_mgmt.orders WHERE shop_id = 1794;
SELECT * FROM order_mgmt.verify(1794);

RESET order_mgmt.clock;
