-- Multi-row UPDATEs of orders (issue 14).  One UPDATE that cancels,
-- reactivates or ships many orders has exactly the effects the same moves
-- have one order at a time -- stock, promo counters, redemptions,
-- reservations, events -- although its first row event locks the promo and
-- stock rows of all its orders first, in checkout's order
-- (src/order_effects.c).  The race that prevents is
-- test/specs/bulk_cancel.spec.
SET order_mgmt.clock = '2026-10-01 10:00+00';
SELECT setval('order_mgmt.order_id_seq', 2400000) > 0 AS ids_of_our_own;

-- The trigger has transition tables.  Its WHEN condition is repeated in
-- order_effects.c (MOVED_SQL), which counts a statement's row events with
-- it: change the two together.
SELECT pg_get_triggerdef(oid, true) FROM pg_trigger WHERE tgname = 'orders_after';

-- Two shops set up alike: 241 moves its orders with one UPDATE each, 242
-- with one UPDATE for all.  Twelve orders over three SKUs (C in two
-- buckets) in varying line order, with a limited code, a code limited per
-- customer, an unlimited code or none, for a customer or a guest.
CREATE FUNCTION bulk_shop(shop bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM order_mgmt.create_shop(shop, 'Bulk ' || shop);
	PERFORM order_mgmt.upsert_customer(shop, 'ann', 'ann@example.com');
	PERFORM order_mgmt.upsert_sku(shop, sku, 100, stock_buckets => CASE sku WHEN 'C' THEN 2 END)
		FROM unnest(ARRAY['A', 'B', 'C']) AS sku;
	PERFORM order_mgmt.set_stock(shop, sku, 50) FROM unnest(ARRAY['A', 'B', 'C']) AS sku;
	PERFORM order_mgmt.create_promo(shop, 'LIM', 'amount', 5, usage_limit => 10);
	PERFORM order_mgmt.create_promo(shop, 'PER', 'amount', 5, per_customer_limit => 3);
	PERFORM order_mgmt.create_promo(shop, 'ANY', 'amount', 5);
	PERFORM order_mgmt.checkout(shop,
			(ARRAY['[{"sku": "C", "qty": 2}, {"sku": "A", "qty": 1}]',
				   '[{"sku": "B", "qty": 1}]',
				   '[{"sku": "B", "qty": 1}, {"sku": "A", "qty": 2}, {"sku": "C", "qty": 1}]'])[i % 3 + 1]::jsonb,
			customer_id => CASE WHEN i % 2 = 0 THEN 'ann' END,
			email => CASE WHEN i % 2 = 1 THEN 'guest@example.com' END,
			promo_code => (ARRAY[NULL, 'LIM', 'PER', 'ANY'])[i % 4 + 1])
		FROM generate_series(0, 11) AS i ORDER BY i;
END
$$;
SELECT bulk_shop(241), bulk_shop(242);

-- What a shop's moves did, with nothing that differs between two shops set
-- up alike: orders by rank, stock per SKU (the bucket a hold takes is
-- random), every redemption, reservation and event.
CREATE FUNCTION bulk_state(shop bigint) RETURNS SETOF text
LANGUAGE sql AS $$
	WITH o AS (SELECT order_id, row_number() OVER (ORDER BY order_id) AS n
			   FROM order_mgmt.orders WHERE shop_id = shop)
	SELECT format('stock %s: on_hand %s reserved %s', sku, on_hand, reserved)
	FROM order_mgmt.stock_level WHERE shop_id = shop
	UNION ALL
	SELECT format('code %s: used %s', code_key, used) FROM order_mgmt.promo_code WHERE shop_id = shop
	UNION ALL
	SELECT format('counter %s %s: used %s', code_key, who, used)
	FROM order_mgmt.promo_customer_use WHERE shop_id = shop
	UNION ALL
	SELECT format('order %s: %s %s %s, code %s', o.n, r.status, r.payment_status, r.delivery_status, r.promo_key)
	FROM order_mgmt.orders r JOIN o USING (order_id) WHERE r.shop_id = shop
	UNION ALL
	SELECT format('order %s redemption %s: %s', o.n, p.code_key, p.state)
	FROM order_mgmt.promo_redemption p JOIN o USING (order_id) WHERE p.shop_id = shop
	UNION ALL
	SELECT format('order %s reservations %s: %s', o.n, v.state, string_agg(v.sku || ' ' || v.qty, ', ' ORDER BY v.sku, v.qty))
	FROM order_mgmt.reservation v JOIN o USING (order_id) WHERE v.shop_id = shop GROUP BY o.n, v.state
	UNION ALL
	SELECT format('order %s events: %s', o.n,
				  string_agg(concat_ws(' ', e.kind, e.from_value, e.to_value,
									   regexp_replace(e.detail::text, '"bucket": [0-9]+', '"bucket": _', 'g')),
							 '; ' ORDER BY e.event_id))
	FROM order_mgmt.order_event e JOIN o USING (order_id) WHERE e.shop_id = shop GROUP BY o.n
$$;

-- What differs between the two shops: nothing, after each step below.
CREATE FUNCTION bulk_diff() RETURNS SETOF text
LANGUAGE sql AS $$
	(SELECT * FROM bulk_state(241) EXCEPT ALL SELECT * FROM bulk_state(242))
	UNION ALL (SELECT * FROM bulk_state(242) EXCEPT ALL SELECT * FROM bulk_state(241))
$$;

-- Shop 241's side: one UPDATE per order, in order_id order (or descending).
CREATE FUNCTION one_by_one(to_status order_mgmt.order_status, descending boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	o bigint;
BEGIN
	FOR o IN SELECT order_id FROM order_mgmt.orders WHERE shop_id = 241
			 ORDER BY CASE WHEN descending THEN -order_id ELSE order_id END LOOP
		UPDATE order_mgmt.orders SET status = to_status WHERE shop_id = 241 AND order_id = o;
	END LOOP;
END
$$;

-- the two shops, alike before the moves
SELECT count(*) AS lines FROM bulk_state(241);
SELECT * FROM bulk_diff();

-- Cancel all twelve: one at a time (order 1 first, alone, in both shops,
-- so the bulk UPDATE also passes an order that does not move).
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE shop_id IN (241, 242) AND order_id IN (
	SELECT min(order_id) FROM order_mgmt.orders WHERE shop_id IN (241, 242) GROUP BY shop_id);
SELECT one_by_one('cancelled', false);
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE shop_id = 242;
-- everything given back: no stock reserved, no code used
SELECT * FROM bulk_state(242) WHERE left(bulk_state, 5) IN ('stock', 'code ', 'count') ORDER BY 1;
SELECT count(*) AS released FROM order_mgmt.order_event
WHERE shop_id = 242 AND kind IN ('release', 'promo_release');
-- exactly what the single-row cancels did
SELECT * FROM bulk_diff();

-- Reactivate all twelve: codes claimed and stock held again.
SELECT one_by_one('pending', true);
UPDATE order_mgmt.orders SET status = 'pending' WHERE shop_id = 242;
SELECT * FROM bulk_state(242) WHERE left(bulk_state, 5) IN ('stock', 'code ', 'count') ORDER BY 1;
SELECT * FROM bulk_diff();

-- One UPDATE that ships the even orders and cancels the odd ones: stock
-- committed and released, codes released, in one statement.
DO $$
DECLARE
	o record;
BEGIN
	FOR o IN SELECT order_id, row_number() OVER (ORDER BY order_id) AS n
			 FROM order_mgmt.orders WHERE shop_id = 241 ORDER BY order_id LOOP
		IF o.n % 2 = 0 THEN
			UPDATE order_mgmt.orders SET delivery_status = 'shipped' WHERE shop_id = 241 AND order_id = o.order_id;
		ELSE
			UPDATE order_mgmt.orders SET status = 'cancelled' WHERE shop_id = 241 AND order_id = o.order_id;
		END IF;
	END LOOP;
END
$$;
UPDATE order_mgmt.orders r
SET status = CASE WHEN o.n % 2 = 1 THEN 'cancelled'::order_mgmt.order_status ELSE r.status END,
	delivery_status = CASE WHEN o.n % 2 = 0 THEN 'shipped'::order_mgmt.delivery_status ELSE r.delivery_status END
FROM (SELECT order_id, row_number() OVER (ORDER BY order_id) AS n FROM order_mgmt.orders WHERE shop_id = 242) o
WHERE r.shop_id = 242 AND r.order_id = o.order_id;
SELECT * FROM bulk_state(242) WHERE left(bulk_state, 5) IN ('stock', 'code ', 'count') ORDER BY 1;
SELECT * FROM bulk_diff();

-- A reactivation that cannot hold its stock aborts the whole UPDATE
-- (OM001), and nothing of it stays.
SELECT order_mgmt.set_stock(242, 'B', (SELECT reserved FROM order_mgmt.stock_level WHERE shop_id = 242 AND sku = 'B')::int);
UPDATE order_mgmt.orders SET status = 'pending' WHERE shop_id = 242 AND status = 'cancelled';
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FILTER (WHERE status = 'cancelled') AS cancelled FROM order_mgmt.orders WHERE shop_id = 242;

SELECT * FROM order_mgmt.verify() WHERE shop_id IN (241, 242);
DROP FUNCTION bulk_shop(bigint);
DROP FUNCTION bulk_diff();
DROP FUNCTION bulk_state(bigint);
DROP FUNCTION one_by_one(order_mgmt.order_status, boolean);
