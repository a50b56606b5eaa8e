-- The "plpgsql" variant of the checkout benchmark (issue 6): checkout()
-- written in PL/pgSQL with the same checks and the same writes, the way a
-- careful team would write it without C.  Kept here, never installed by the
-- extension.  It validates before the first write, locks stock in SKU
-- order, and raises the same SQLSTATEs, but it is not the contract: no
-- idempotency keys, holds, buckets beyond a plain pick, or queue.
CREATE FUNCTION bench.checkout_plpgsql(p_shop bigint, p_lines jsonb, p_customer text DEFAULT NULL,
		p_promo text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, order_mgmt, pg_temp
AS $$
DECLARE
	v_shop order_mgmt.shop;
	v_email text;
	v_promo order_mgmt.promo_code;
	v_key text;
	v_lines jsonb;
	v_n int;
	v_subtotal numeric;
	v_discount numeric := 0;
	v_order bigint;
	v_now timestamptz := order_mgmt.now();
	v_line record;
	v_bucket int;
	v_holds jsonb := '[]';
	v_missing text;
BEGIN
	IF p_shop IS NULL OR p_lines IS NULL THEN
		RAISE EXCEPTION 'shop_id and lines must not be null' USING ERRCODE = '22004';
	END IF;
	IF jsonb_typeof(p_lines) <> 'array' OR jsonb_array_length(p_lines) = 0 THEN
		RAISE EXCEPTION 'lines must be a non-empty JSON array' USING ERRCODE = '22023';
	END IF;
	IF jsonb_array_length(p_lines) > 100 THEN
		RAISE EXCEPTION 'too many lines' USING ERRCODE = '22023';
	END IF;
	-- each line {sku, qty}; the same SKU twice is one line
	IF EXISTS (SELECT FROM jsonb_array_elements(p_lines) e
			   WHERE jsonb_typeof(e) <> 'object' OR jsonb_typeof(e -> 'sku') IS DISTINCT FROM 'string'
				  OR jsonb_typeof(e -> 'qty') IS DISTINCT FROM 'number'
				  OR (e ->> 'qty')::numeric NOT BETWEEN 1 AND 100000
				  OR (e ->> 'qty')::numeric <> trunc((e ->> 'qty')::numeric)
				  OR e - 'sku' - 'qty' <> '{}') THEN
		RAISE EXCEPTION 'each line must be an object {"sku": text, "qty": 1..100000}' USING ERRCODE = '22023';
	END IF;
	SELECT * INTO v_shop FROM order_mgmt.shop WHERE shop_id = p_shop;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'shop % does not exist', p_shop USING ERRCODE = '22023';
	END IF;
	SELECT jsonb_agg(jsonb_build_object('sku', l.sku, 'qty', l.qty, 'price', k.price,
										'tracked', NOT k.digital OR EXISTS (SELECT FROM order_mgmt.stock t
											WHERE t.shop_id = k.shop_id AND t.sku = k.sku))
					 ORDER BY l.sku COLLATE "C"),
		   sum(k.price * l.qty), count(*), min(l.sku) FILTER (WHERE k.sku IS NULL)
	  INTO v_lines, v_subtotal, v_n, v_missing
	  FROM (SELECT e ->> 'sku' AS sku, sum((e ->> 'qty')::int) AS qty
			FROM jsonb_array_elements(p_lines) e GROUP BY 1) l
	  LEFT JOIN order_mgmt.sku k ON k.shop_id = p_shop AND k.sku = l.sku;
	IF v_missing IS NOT NULL THEN
		RAISE EXCEPTION 'unknown sku "%"', v_missing USING ERRCODE = '22023';
	END IF;
	IF p_customer IS NOT NULL THEN
		SELECT email INTO v_email FROM order_mgmt.customer WHERE shop_id = p_shop AND customer_id = p_customer;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'customer "%" does not exist in shop %', p_customer, p_shop USING ERRCODE = '22023';
		END IF;
	END IF;
	IF p_promo IS NOT NULL THEN
		v_key := order_mgmt.normalize_code(p_promo);
		SELECT * INTO v_promo FROM order_mgmt.promo_code WHERE shop_id = p_shop AND code_key = v_key;
		IF NOT FOUND OR NOT v_promo.active
		   OR (v_promo.starts_at IS NOT NULL AND v_now < v_promo.starts_at)
		   OR (v_promo.ends_at IS NOT NULL AND v_now >= v_promo.ends_at)
		   OR (v_promo.customer_id IS NOT NULL AND v_promo.customer_id IS DISTINCT FROM p_customer) THEN
			RAISE EXCEPTION 'promo code "%" is not valid', p_promo USING ERRCODE = 'OM002';
		END IF;
		IF v_subtotal < v_promo.min_subtotal THEN
			RAISE EXCEPTION 'promo code "%" needs a subtotal of at least %', p_promo, v_promo.min_subtotal
				USING ERRCODE = 'OM002';
		END IF;
		v_discount := CASE v_promo.kind WHEN 'percent' THEN round(v_subtotal * v_promo.value / 100, 0)
						   WHEN 'amount' THEN least(v_promo.value, v_subtotal) ELSE 0 END;
	END IF;

	INSERT INTO order_mgmt.orders (shop_id, customer_id, email, payment_method, currency, subtotal, discount,
								   total, promo_code, promo_key, payment_due_at, created_at)
	VALUES (p_shop, p_customer, v_email, 'credit_card', v_shop.currency, v_subtotal, v_discount,
			v_subtotal - v_discount, p_promo, v_key, v_now + v_shop.payment_timeout, v_now)
	RETURNING order_id INTO v_order;
	INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price, ordered_at)
	SELECT p_shop, v_order, n, l ->> 'sku', (l ->> 'qty')::int, (l ->> 'price')::numeric, v_now
	FROM jsonb_array_elements(v_lines) WITH ORDINALITY AS x(l, n);
	-- the payment deadline is payment_due_at alone (issue 21): no due_action row

	IF p_promo IS NOT NULL THEN
		IF v_promo.usage_limit IS NOT NULL THEN
			UPDATE order_mgmt.promo_code SET used = used + 1
			WHERE shop_id = p_shop AND code_key = v_key AND used < usage_limit;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'promo code "%" has been used up', p_promo USING ERRCODE = 'OM003';
			END IF;
		END IF;
		INSERT INTO order_mgmt.promo_redemption (shop_id, code_key, order_id, customer_id, state, limited, claimed_at)
		VALUES (p_shop, v_key, v_order, p_customer, 'active', v_promo.usage_limit IS NOT NULL, v_now);
	END IF;

	-- stock in SKU order; one bucket with enough units
	FOR v_line IN SELECT l ->> 'sku' AS sku, (l ->> 'qty')::int AS qty
				  FROM jsonb_array_elements(v_lines) l WHERE (l ->> 'tracked')::boolean LOOP
		UPDATE order_mgmt.stock SET reserved = reserved + v_line.qty
		WHERE (shop_id, sku, bucket) = (SELECT s.shop_id, s.sku, s.bucket FROM order_mgmt.stock s
										WHERE s.shop_id = p_shop AND s.sku = v_line.sku
										  AND (s.backorder OR s.on_hand - s.reserved >= v_line.qty)
										ORDER BY s.bucket LIMIT 1)
		  AND (backorder OR on_hand - reserved >= v_line.qty)
		RETURNING bucket INTO v_bucket;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'insufficient stock for sku "%"', v_line.sku USING ERRCODE = 'OM001';
		END IF;
		INSERT INTO order_mgmt.reservation (shop_id, order_id, sku, bucket, qty, created_at)
		VALUES (p_shop, v_order, v_line.sku, v_bucket, v_line.qty, v_now);
		v_holds := v_holds || jsonb_build_object('sku', v_line.sku, 'bucket', v_bucket, 'qty', v_line.qty);
	END LOOP;

	INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, detail)
	VALUES (p_shop, v_order, v_now, current_user, 'checkout',
			jsonb_build_object('lines', v_lines, 'holds', v_holds, 'subtotal', v_subtotal,
							   'discount', v_discount, 'total', v_subtotal - v_discount, 'promo', v_key));
	RETURN v_order;
END
$$;
