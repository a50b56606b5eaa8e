-- Stress test set-up: one shop (or psql -v shops=N: shops 1..N, alike),
-- 50 SKUs (SKU S1 hot: 4 buckets, little stock), a limited and an
-- unlimited promo code, customers, and wrappers that turn the refusals a
-- real shop sees (OM001, OM003, OM005 ...) into a NULL result, so that
-- pgbench clients keep going.  Any other error (a bug) still aborts the
-- client and fails the run.  The wrappers act on shop 1, or on the shop
-- in the setting stress.shop (PGOPTIONS='-c stress.shop=2').
\if :{?shops}
\else
\set shops 1
\endif
CREATE EXTENSION IF NOT EXISTS order_mgmt;
DROP SCHEMA IF EXISTS stress CASCADE;
CREATE SCHEMA stress;

SELECT order_mgmt.create_shop(s, 'Stress shop ' || s) FROM generate_series(1, :shops) s;
SELECT order_mgmt.update_shop(s, '{"auto_cancel_failed": true, "payment_timeout": "2 seconds"}')
FROM generate_series(1, :shops) s;
SELECT order_mgmt.upsert_sku(s, 'S' || g, 10 + g, stock_buckets => CASE WHEN g = 1 THEN 4 END)
FROM generate_series(1, :shops) s, generate_series(1, 50) g;
SELECT order_mgmt.set_stock(s, 'S' || g, CASE WHEN g = 1 THEN 200 ELSE 5000 END)
FROM generate_series(1, :shops) s, generate_series(1, 50) g;
SELECT order_mgmt.upsert_customer(s, 'c' || g, 'c' || g || '@example.com')
FROM generate_series(1, :shops) s, generate_series(1, 100) g;
SELECT order_mgmt.create_promo(s, 'LIMITED', 'percent', 10, usage_limit => 300) FROM generate_series(1, :shops) s;
SELECT order_mgmt.create_promo(s, 'OPEN', 'amount', 5) FROM generate_series(1, :shops) s;

-- refusals are part of the workload; anything else is a bug
CREATE FUNCTION stress.expected(state text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
	SELECT state LIKE 'OM%' OR state = '55P03'
$$;

-- the shop the wrappers act on: the setting stress.shop, else 1
CREATE FUNCTION stress.shop() RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT coalesce(nullif(current_setting('stress.shop', true), '')::bigint, 1)
$$;

CREATE FUNCTION stress.checkout(sku1 int, sku2 int, qty int, promo int, cust int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	lines jsonb := jsonb_build_array(jsonb_build_object('sku', 'S' || sku1, 'qty', qty));
	shop bigint := stress.shop();
BEGIN
	IF sku2 <> sku1 THEN
		lines := lines || jsonb_build_object('sku', 'S' || sku2, 'qty', 1);
	END IF;
	RETURN order_mgmt.checkout(shop, lines, customer_id => 'c' || cust,
		promo_code => CASE WHEN promo <= 10 THEN 'LIMITED' WHEN promo <= 20 THEN 'open' END);
EXCEPTION WHEN OTHERS THEN
	IF stress.expected(SQLSTATE) THEN RETURN NULL; END IF;
	RAISE;
END
$$;

-- an operation on a random recent order
CREATE FUNCTION stress.op(what text, pick double precision) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	o bigint;
	lo bigint;
	hi bigint;
	shop bigint := stress.shop();
BEGIN
	SELECT min(order_id), max(order_id) INTO lo, hi FROM order_mgmt.orders WHERE shop_id = shop;
	IF lo IS NULL THEN RETURN NULL; END IF;
	-- the shop's first order at or after the pick (ids are shared by all shops)
	SELECT order_id INTO o FROM order_mgmt.orders
	WHERE shop_id = shop AND order_id >= lo + floor(pick * (hi - lo + 1))::bigint
	ORDER BY order_id LIMIT 1;
	CASE what
		WHEN 'pay' THEN
			RETURN order_mgmt.payment_succeeded(shop, o, (SELECT total FROM order_mgmt.orders WHERE shop_id = shop AND order_id = o),
												'p-' || o || '-' || floor(pick * 1e9)::bigint)::text;
		WHEN 'fail' THEN
			RETURN order_mgmt.payment_failed(shop, o, 'declined')::text;
		WHEN 'cancel' THEN
			PERFORM order_mgmt.cancel(shop, o, 'changed_mind');
		WHEN 'reactivate' THEN
			PERFORM order_mgmt.reactivate(shop, o);
		WHEN 'ship' THEN
			UPDATE order_mgmt.orders SET delivery_status = 'shipped'
			WHERE shop_id = shop AND order_id = o AND payment_status = 'paid' AND status <> 'cancelled';
		WHEN 'refund' THEN
			RETURN order_mgmt.refund(shop, o, 1)::text;
	END CASE;
	RETURN what;
EXCEPTION WHEN OTHERS THEN
	IF stress.expected(SQLSTATE) OR SQLSTATE = '22023' THEN RETURN NULL; END IF;
	RAISE;
END
$$;
