
-- verify(): one row per broken invariant; no rows means consistent (SPEC §18).
-- PL/pgSQL rather than SQL so that Citus can plan it (SPEC §18).

CREATE FUNCTION order_mgmt.check_invariants(p_shop bigint)
	RETURNS TABLE (check_name text, shop_id bigint, detail text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	-- stock rows within bounds: never oversold unless backorder
	RETURN QUERY
	SELECT 'stock_bounds', s.shop_id,
		   format('sku %s bucket %s: on_hand %s, reserved %s, backorder %s',
				  s.sku, s.bucket, s.on_hand, s.reserved, s.backorder)
	FROM order_mgmt.stock s
	WHERE (p_shop IS NULL OR s.shop_id = p_shop)
	  AND (s.reserved < 0 OR (NOT s.backorder AND (s.on_hand < 0 OR s.reserved > s.on_hand)));

	-- the stock row's backorder flag follows the SKU
	RETURN QUERY
	SELECT 'stock_backorder_flag', s.shop_id,
		   format('sku %s bucket %s: stock.backorder %s, sku.allow_backorder %s',
				  s.sku, s.bucket, s.backorder, k.allow_backorder)
	FROM order_mgmt.stock s JOIN order_mgmt.sku k USING (shop_id, sku)
	WHERE (p_shop IS NULL OR s.shop_id = p_shop) AND s.backorder <> k.allow_backorder;

	-- stock.reserved is the sum of the held reservations (the ledger)
	RETURN QUERY
	SELECT 'reserved_matches_held', coalesce(s.shop_id, r.shop_id),
		   format('sku %s bucket %s: reserved %s, held reservations %s',
				  coalesce(s.sku, r.sku), coalesce(s.bucket, r.bucket),
				  coalesce(s.reserved, 0), coalesce(r.held, 0))
	FROM (SELECT * FROM order_mgmt.stock WHERE p_shop IS NULL OR shop_id = p_shop) s
	FULL JOIN (SELECT shop_id, sku, bucket, sum(qty) AS held
			   FROM order_mgmt.reservation
			   WHERE state = 'held' AND (p_shop IS NULL OR shop_id = p_shop)
			   GROUP BY shop_id, sku, bucket) r
		ON r.shop_id = s.shop_id AND r.sku = s.sku AND r.bucket = s.bucket
	WHERE coalesce(s.reserved, 0) <> coalesce(r.held, 0);

	-- promo codes: used equals the active redemptions counted in it, within the limit
	RETURN QUERY
	SELECT 'promo_used', p.shop_id,
		   format('code %s: used %s, active redemptions %s (%s counted), usage_limit %s',
				  p.code_key, p.used, coalesce(r.active, 0), coalesce(r.counted, 0),
				  coalesce(p.usage_limit::text, 'none'))
	FROM order_mgmt.promo_code p
	LEFT JOIN (SELECT shop_id, code_key, count(*) AS active, count(*) FILTER (WHERE limited) AS counted
			   FROM order_mgmt.promo_redemption
			   WHERE state = 'active' AND (p_shop IS NULL OR shop_id = p_shop)
			   GROUP BY shop_id, code_key) r USING (shop_id, code_key)
	WHERE (p_shop IS NULL OR p.shop_id = p_shop)
	  AND (p.used <> coalesce(r.counted, 0)
		   OR coalesce(r.active, 0) > coalesce(p.usage_limit, 2147483647));

	-- per-customer use equals that customer's active redemptions, within the limit
	RETURN QUERY
	SELECT 'promo_customer_use', coalesce(u.shop_id, r.shop_id),
		   format('code %s, %s: used %s, active redemptions %s, per_customer_limit %s',
				  coalesce(u.code_key, r.code_key), coalesce(u.who, r.who), coalesce(u.used, 0),
				  coalesce(r.active, 0), coalesce(p.per_customer_limit::text, 'none'))
	FROM (SELECT * FROM order_mgmt.promo_customer_use WHERE p_shop IS NULL OR shop_id = p_shop) u
	FULL JOIN (SELECT shop_id, code_key, who, count(*) AS active
			   FROM order_mgmt.promo_redemption
			   WHERE state = 'active' AND who IS NOT NULL AND (p_shop IS NULL OR shop_id = p_shop)
			   GROUP BY shop_id, code_key, who) r
		ON r.shop_id = u.shop_id AND r.code_key = u.code_key AND r.who = u.who
	LEFT JOIN order_mgmt.promo_code p
		ON p.shop_id = coalesce(u.shop_id, r.shop_id) AND p.code_key = coalesce(u.code_key, r.code_key)
	WHERE coalesce(u.used, 0) <> coalesce(r.active, 0)
	   OR coalesce(r.active, 0) > coalesce(p.per_customer_limit, 2147483647);

	-- status combinations no path may produce
	RETURN QUERY
	SELECT 'status_combination', o.shop_id,
		   format('order %s: %s / %s / %s%s', o.order_id, o.status, o.payment_status,
				  o.delivery_status, CASE WHEN o.archived_at IS NOT NULL THEN ' / archived' ELSE '' END)
	FROM order_mgmt.orders o
	WHERE (p_shop IS NULL OR o.shop_id = p_shop)
	  AND ((o.status = 'cancelled' AND o.delivery_status NOT IN
				('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue'))
		   OR ((o.status = 'cancelled') <> (o.cancelled_at IS NOT NULL))
		   OR (o.archived_at IS NOT NULL AND o.status NOT IN ('completed', 'cancelled'))
		   OR o.refunded_amount > o.paid_amount);

	-- the order's money is the sum of its succeeded payments and refunds
	RETURN QUERY
	SELECT 'money', o.shop_id,
		   format('order %s: paid_amount %s, succeeded charges %s; refunded_amount %s, succeeded refunds %s',
				  o.order_id, o.paid_amount, coalesce(p.charged, 0), o.refunded_amount, coalesce(p.refunded, 0))
	FROM order_mgmt.orders o
	LEFT JOIN (SELECT shop_id, order_id,
					  sum(amount) FILTER (WHERE kind = 'charge') AS charged,
					  sum(amount) FILTER (WHERE kind = 'refund') AS refunded
			   FROM order_mgmt.payment
			   WHERE status = 'succeeded' AND (p_shop IS NULL OR shop_id = p_shop)
			   GROUP BY shop_id, order_id) p
		ON p.shop_id = o.shop_id AND p.order_id = o.order_id
	WHERE (p_shop IS NULL OR o.shop_id = p_shop)
	  AND (o.paid_amount <> coalesce(p.charged, 0) OR o.refunded_amount <> coalesce(p.refunded, 0));

	-- reward points: earned only by completed orders, never reversed beyond what was earned
	RETURN QUERY
	SELECT 'rewards', r.shop_id,
		   format('order %s (%s): earned %s, reversed %s', r.order_id, o.status, r.earned, r.reversed)
	FROM (SELECT shop_id, order_id,
				 coalesce(sum(points) FILTER (WHERE kind = 'earned'), 0) AS earned,
				 coalesce(sum(points) FILTER (WHERE kind = 'reversed'), 0) AS reversed
		  FROM order_mgmt.reward_ledger
		  WHERE p_shop IS NULL OR shop_id = p_shop
		  GROUP BY shop_id, order_id) r
	JOIN order_mgmt.orders o ON o.shop_id = r.shop_id AND o.order_id = r.order_id
	WHERE r.reversed > r.earned OR (r.earned > 0 AND o.status <> 'completed');

	-- order lines, in one pass: returned units never more than shipped and
	-- only from shipped orders; each line carries its order's creation time
	-- (the variant-mix report reads it).  An exchange holds its replacement
	-- only while the request is open.
	RETURN QUERY
	SELECT c.name, l.shop_id,
		   CASE c.name
			   WHEN 'returns' THEN format('order %s line %s (%s): qty %s, returned %s, shipped %s',
										  l.order_id, l.line_no, l.sku, l.qty, l.returned_qty,
										  o.shipped_at IS NOT NULL)
			   ELSE format('order %s line %s: ordered_at %s, order created %s', l.order_id, l.line_no,
						   l.ordered_at, o.created_at) END
	FROM order_mgmt.order_line l
	JOIN order_mgmt.orders o ON o.shop_id = l.shop_id AND o.order_id = l.order_id
	CROSS JOIN LATERAL (VALUES
		('returns', l.returned_qty > l.qty OR (l.returned_qty > 0 AND o.shipped_at IS NULL)),
		('line_time', l.ordered_at <> o.created_at)) c(name, bad)
	WHERE (p_shop IS NULL OR l.shop_id = p_shop) AND c.bad;
	RETURN QUERY
	SELECT 'exchange_hold', r.shop_id,
		   format('return %s is %s but reservation %s of sku %s is held', r.return_id, q.state,
				  r.reservation_id, r.sku)
	FROM order_mgmt.reservation r
	JOIN order_mgmt.return_request q ON q.shop_id = r.shop_id AND q.return_id = r.return_id
	WHERE (p_shop IS NULL OR r.shop_id = p_shop)
	  AND r.state = 'held' AND q.state NOT IN ('requested', 'approved', 'received');

	-- every status an order is in was reached by a logged move, and the
	-- logged moves of each machine chain from the initial status
	RETURN QUERY
	WITH machine AS (
		SELECT o.shop_id, o.order_id, m.machine, m.current, m.initial
		FROM order_mgmt.orders o
		CROSS JOIN LATERAL (VALUES
			('order_status', o.status::text, 'pending'),
			('payment_status', o.payment_status::text, 'unpaid'),
			('delivery_status', o.delivery_status::text,
			 CASE WHEN o.logistics = 'standard' THEN 'unfulfilled' ELSE 'not_executed' END)
		) AS m(machine, current, initial)
		WHERE p_shop IS NULL OR o.shop_id = p_shop
	), moves AS (
		SELECT m.shop_id, m.order_id, m.machine, m.current, m.initial, e.event_id,
			   e.from_value, e.to_value,
			   lag(e.to_value, 1, m.initial) OVER w AS expected_from,
			   row_number() OVER (PARTITION BY m.shop_id, m.order_id, m.machine
								  ORDER BY e.event_id DESC) AS newest
		FROM machine m
		LEFT JOIN order_mgmt.order_event e
			ON e.shop_id = m.shop_id AND e.order_id = m.order_id
		   AND e.kind = m.machine::order_mgmt.event_kind
		WINDOW w AS (PARTITION BY m.shop_id, m.order_id, m.machine ORDER BY e.event_id)
	)
	SELECT 'event_log', shop_id,
		   CASE WHEN event_id IS NOT NULL AND from_value IS DISTINCT FROM expected_from
				THEN format('order %s: %s event %s moves from %s, but the status was %s',
							order_id, machine, event_id, from_value, expected_from)
				ELSE format('order %s: %s is %s, but its event log ends at %s',
							order_id, machine, current, coalesce(to_value, initial))
		   END
	FROM moves
	WHERE (event_id IS NOT NULL AND from_value IS DISTINCT FROM expected_from)
	   OR (newest = 1 AND current <> coalesce(to_value, initial));
END
$$;
COMMENT ON FUNCTION order_mgmt.check_invariants(bigint) IS
	'The checks behind order_mgmt.verify(); NULL checks every shop';

-- verify() takes and returns a column named shop_id, which PL/pgSQL cannot
-- declare twice, so a small C function runs the checks.
CREATE FUNCTION order_mgmt.verify(shop_id bigint DEFAULT NULL)
	RETURNS TABLE (check_name text, shop_id bigint, detail text)
	AS 'MODULE_PATHNAME', 'om_verify'
	LANGUAGE C STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.verify(bigint) IS
	'Checks the invariants (stock vs ledger, promo use, status combinations, event log); returns one row per violation, none when consistent';
