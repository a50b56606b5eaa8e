-- Issue 18, seed 003 (Metrilo, saving cancelled orders): "offer a discount
-- coupon for the products chosen at first".  A promo code may be limited to
-- products or SKUs: it discounts only the lines in its scope, its minimum
-- is judged on them, and an order with none of them is refused (OM002).
-- Shops 1740-1749.
SET order_mgmt.clock = '2026-12-10 10:00+00';
SELECT order_mgmt.create_shop(1740, 'Scope shop', 'EUR', 'en', 'UTC');
SELECT setval('order_mgmt.order_id_seq', 1740000);
SELECT order_mgmt.upsert_sku(1740, 'MUG-RED', 12.99, product_id => 'MUG');
SELECT order_mgmt.upsert_sku(1740, 'MUG-BLUE', 12.99, product_id => 'MUG');
SELECT order_mgmt.upsert_sku(1740, 'TEE-M', 20, product_id => 'TEE');
SELECT order_mgmt.upsert_sku(1740, 'CAP', 15, product_id => 'CAP');
SELECT order_mgmt.upsert_sku(1740, 'GIFT', 5);	-- no product
SELECT order_mgmt.set_stock(1740, sku, 100) FROM unnest(ARRAY['MUG-RED', 'MUG-BLUE', 'TEE-M', 'CAP', 'GIFT']) sku;
SELECT order_mgmt.upsert_customer(1740, 'mary', 'mary@example.com');
SELECT order_mgmt.run_due(100000) >= 0 AS flushed;

-- ---------------------------------------------------------------------------
-- Mary cancels (changed her mind); the merchant sends her a coupon for the
-- products she first chose
-- ---------------------------------------------------------------------------
SELECT order_mgmt.checkout(1740, '[{"sku": "MUG-RED", "qty": 1}, {"sku": "TEE-M", "qty": 2}]',
	customer_id => 'mary') AS first \gset
SELECT order_mgmt.customer_cancel(1740, :first, 'mary', 'changed_mind');
SELECT order_mgmt.create_promo(1740, 'MARY-AGAIN', 'percent', 15, usage_limit => 1, customer_id => 'mary',
	products => (SELECT array_agg(DISTINCT k.product_id ORDER BY k.product_id)
				 FROM order_mgmt.order_line l JOIN order_mgmt.sku k ON k.shop_id = l.shop_id AND k.sku = l.sku
				 WHERE l.shop_id = 1740 AND l.order_id = :first));
SELECT code, kind, usage_limit, scope FROM order_mgmt.promo_usage WHERE shop_id = 1740;
SELECT scope_products, scope_skus FROM order_mgmt.promo_code WHERE shop_id = 1740;

-- she comes back for a mug in another colour, the tee, and a cap: 15% off
-- the mug and the tee (32.99 -> 4.95), nothing off the cap; the rounding
-- rest goes to the larger line in scope
SELECT order_mgmt.checkout(1740, '[{"sku": "MUG-BLUE", "qty": 1}, {"sku": "TEE-M", "qty": 1}, {"sku": "CAP", "qty": 1}]',
	customer_id => 'mary', promo_code => 'mary-again') AS back \gset
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :back;
SELECT line_no, sku, qty, unit_price, discount FROM order_mgmt.order_line WHERE order_id = :back ORDER BY line_no;
-- the checkout event lists each line's share
SELECT jsonb_path_query(detail, '$.lines[*]') AS line, detail->'discount' AS discount, detail->'promo' AS promo
FROM order_mgmt.order_event WHERE shop_id = 1740 AND order_id = :back AND kind = 'checkout';

-- ---------------------------------------------------------------------------
-- Kinds: an amount applies up to the lines in scope; free shipping needs a
-- line in scope; a code may name products and SKUs (either applies)
-- ---------------------------------------------------------------------------
SELECT order_mgmt.create_promo(1740, 'MUG10', 'amount', 10, skus => ARRAY['MUG-RED', 'MUG-BLUE']);
SELECT order_mgmt.create_promo(1740, 'MUG50', 'amount', 50, products => ARRAY['MUG']);
SELECT order_mgmt.create_promo(1740, 'CAPSHIP', 'free_shipping', 0, products => ARRAY['CAP']);
SELECT order_mgmt.create_promo(1740, 'MIX', 'percent', 50, products => ARRAY['CAP'], skus => ARRAY['GIFT']);
SELECT order_mgmt.create_promo(1740, 'TEE-MIN', 'percent', 10, min_subtotal => 30, products => ARRAY['TEE']);
SELECT order_mgmt.create_promo(1740, 'ALL5', 'amount', 5);
SELECT code, kind, scope FROM order_mgmt.promo_usage WHERE shop_id = 1740 ORDER BY code;

SELECT order_mgmt.checkout(1740, '[{"sku": "MUG-RED", "qty": 2}, {"sku": "TEE-M", "qty": 1}]', promo_code => 'MUG10') AS o \gset
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :o;
SELECT sku, discount FROM order_mgmt.order_line WHERE order_id = :o ORDER BY line_no;
SELECT order_mgmt.checkout(1740, '[{"sku": "MUG-RED", "qty": 1}, {"sku": "TEE-M", "qty": 3}]', promo_code => 'MUG50') AS o \gset
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :o;
SELECT sku, discount FROM order_mgmt.order_line WHERE order_id = :o ORDER BY line_no;
SELECT order_mgmt.checkout(1740, '[{"sku": "CAP", "qty": 1}, {"sku": "TEE-M", "qty": 1}]', promo_code => 'CAPSHIP',
	shipping_fee => 7) AS o \gset
SELECT subtotal, discount, shipping_fee, total FROM order_mgmt.orders WHERE order_id = :o;
SELECT sku, discount FROM order_mgmt.order_line WHERE order_id = :o ORDER BY line_no;
SELECT order_mgmt.checkout(1740, '[{"sku": "GIFT", "qty": 1}, {"sku": "TEE-M", "qty": 1}, {"sku": "CAP", "qty": 1}]',
	promo_code => 'MIX') AS o \gset
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :o;
SELECT sku, discount FROM order_mgmt.order_line WHERE order_id = :o ORDER BY line_no;
-- min_subtotal is judged on the lines in scope: 2 tees reach 30
SELECT order_mgmt.checkout(1740, '[{"sku": "TEE-M", "qty": 2}, {"sku": "CAP", "qty": 1}]', promo_code => 'TEE-MIN') AS o \gset
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :o;
-- a whole-order code spreads over every line, as before
SELECT order_mgmt.checkout(1740, '[{"sku": "GIFT", "qty": 1}, {"sku": "CAP", "qty": 1}]', promo_code => 'ALL5') AS o \gset
SELECT sku, discount FROM order_mgmt.order_line WHERE order_id = :o ORDER BY line_no;

-- ---------------------------------------------------------------------------
-- OM002: no line in scope, or the lines in scope short of the minimum;
-- nothing is written, held or claimed
-- ---------------------------------------------------------------------------
SELECT count(*) AS orders FROM order_mgmt.orders WHERE shop_id = 1740;
SELECT sum(reserved) AS reserved FROM order_mgmt.stock_level WHERE shop_id = 1740;
SELECT count(*) AS redemptions FROM order_mgmt.promo_redemption WHERE shop_id = 1740;
SELECT order_mgmt.checkout(1740, '[{"sku": "CAP", "qty": 1}, {"sku": "GIFT", "qty": 1}]', promo_code => 'MUG10');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1740, '[{"sku": "TEE-M", "qty": 1}]', promo_code => 'CAPSHIP', shipping_fee => 7);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1740, '[{"sku": "MUG-RED", "qty": 1}]', promo_code => 'MIX');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1740, '[{"sku": "TEE-M", "qty": 1}, {"sku": "CAP", "qty": 5}]', promo_code => 'TEE-MIN');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS orders FROM order_mgmt.orders WHERE shop_id = 1740;
SELECT sum(reserved) AS reserved FROM order_mgmt.stock_level WHERE shop_id = 1740;
SELECT count(*) AS redemptions FROM order_mgmt.promo_redemption WHERE shop_id = 1740;

-- ---------------------------------------------------------------------------
-- create_promo: bad scopes (22023), and no code is made
-- ---------------------------------------------------------------------------
SELECT order_mgmt.create_promo(1740, 'BAD', 'percent', 10, products => '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(1740, 'BAD', 'percent', 10, skus => ARRAY['CAP', NULL]);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(1740, 'BAD', 'percent', 10, skus => ARRAY['CAP', 'GIFT', 'CAP']);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(1740, 'BAD', 'percent', 10, skus => ARRAY['CAP', 'HAT']);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(1740, 'BAD', 'percent', 10, products => ARRAY['MUG', 'mug']);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(1740, 'BAD', 'percent', 10, products => ARRAY['MUG'], skus => ARRAY['MUG']);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(1740, 'BAD', 'percent', 10, products => ARRAY[repeat('x', 201)]);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(1740, 'BAD', 'percent', 10, products => ARRAY[' MUG']);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(1740, 'BAD', 'percent', 10, skus => ARRAY[ARRAY['CAP'], ARRAY['GIFT']]);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(1740, 'BAD', 'percent', 10, skus => (SELECT array_agg('S' || i) FROM generate_series(1, 101) i));
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS codes FROM order_mgmt.promo_code WHERE shop_id = 1740;

-- ---------------------------------------------------------------------------
-- add_lines during a post-purchase hold: the code prices all the lines
-- again, in its scope, and every line keeps its share
-- ---------------------------------------------------------------------------
SELECT order_mgmt.create_promo(1740, 'TEE10', 'percent', 10, products => ARRAY['TEE']);
SELECT order_mgmt.checkout(1740, '[{"sku": "MUG-RED", "qty": 1}, {"sku": "TEE-M", "qty": 1}]', promo_code => 'TEE10',
	hold => '15 minutes') AS held \gset
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :held;
SELECT order_mgmt.add_lines(1740, :held, '[{"sku": "CAP", "qty": 1}, {"sku": "TEE-M", "qty": 2}]');
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :held;
SELECT line_no, sku, qty, discount FROM order_mgmt.order_line WHERE order_id = :held ORDER BY line_no;
SELECT detail->'subtotal' AS subtotal, detail->'discount' AS discount, detail->'line_discounts' AS line_discounts
FROM order_mgmt.order_event
WHERE shop_id = 1740 AND order_id = :held AND kind = 'reserve' AND detail ? 'added';
-- an amount code capped by the lines in scope grows with them
SELECT order_mgmt.checkout(1740, '[{"sku": "MUG-RED", "qty": 1}, {"sku": "CAP", "qty": 1}]', promo_code => 'MUG50',
	hold => '15 minutes') AS held2 \gset
SELECT order_mgmt.add_lines(1740, :held2, '[{"sku": "MUG-BLUE", "qty": 1}]');
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :held2;
SELECT line_no, sku, discount FROM order_mgmt.order_line WHERE order_id = :held2 ORDER BY line_no;

-- every order's line discounts add up to its discount (free shipping: none)
SELECT o.order_id - 1740000 AS n, o.discount, sum(l.discount) AS line_discounts
FROM order_mgmt.orders o JOIN order_mgmt.order_line l USING (shop_id, order_id)
WHERE o.shop_id = 1740 GROUP BY o.shop_id, o.order_id HAVING o.discount <> sum(l.discount) ORDER BY 1;
SELECT code, used, scope FROM order_mgmt.promo_usage WHERE shop_id = 1740 ORDER BY code;

RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify(1740);
