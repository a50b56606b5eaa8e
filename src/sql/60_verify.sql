
-- verify(): one row per broken invariant; no rows means consistent (SPEC §18).
-- PL/pgSQL rather than SQL so that Citus can plan it (SPEC §18).
--
-- Each RETURN QUERY is one pass over the tables it reads (joins and
-- aggregates, no function called per row): with a shop_id every table is
-- read through an index that leads with shop_id, so verify(shop) costs
-- O(that shop's rows); verify() reads every table once per statement,
-- O(all rows).  Each call plans its statements for its shop_id
-- (force_custom_plan): a plan cached for "every shop" would scan every
-- shop's rows for one.  JIT is off: the plans' costs run high, and
-- compiling them took longer than checking a shop of 10,000 orders.
-- The rules are the ones the C code keeps; each comment says where they
-- come from.  docs/reference.md lists the checks.

CREATE FUNCTION order_mgmt.check_invariants(p_shop bigint)
	RETURNS TABLE (check_name text, shop_id bigint, detail text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
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

	-- an order holds its lines, per SKU, from checkout (or reactivation)
	-- until it ships or is cancelled (reservation.c): while it is not
	-- cancelled and its delivery is pre-shipment, its held reservations
	-- are its lines' quantities (partially_shipped: what its packages have
	-- not taken yet, shipment.c) of every tracked SKU (not digital, or with
	-- a stock row: checkout.c, HoldAgain in order_effects.c); otherwise it
	-- holds nothing.  A completed order that has not shipped still holds
	-- (completing does not touch stock; shipping commits it).  An
	-- exchange's replacement is held for its request (return_id set) and
	-- checked by exchange_hold, not here.  A digital SKU may hold nothing:
	-- its stock row may have come after the order held its lines.  The
	-- lines to hold and the held reservations are summed in one
	-- aggregate, per order and SKU.
	RETURN QUERY
	WITH tracked AS (
		SELECT k.shop_id, k.sku, k.digital
		FROM order_mgmt.sku k
		WHERE (p_shop IS NULL OR k.shop_id = p_shop)
		  AND (NOT k.digital OR EXISTS (SELECT FROM order_mgmt.stock t
										WHERE t.shop_id = k.shop_id AND t.sku = k.sku))
	), packed AS (
		SELECT p.shop_id, p.order_id, p.line_no, sum(p.qty) AS qty
		FROM order_mgmt.shipment_line p
		WHERE p_shop IS NULL OR p.shop_id = p_shop
		GROUP BY p.shop_id, p.order_id, p.line_no
	), units AS (
		SELECT l.shop_id, l.order_id, l.sku, l.qty - coalesce(p.qty, 0) AS want, 0 AS held, t.digital
		FROM order_mgmt.orders o
		JOIN order_mgmt.order_line l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
		JOIN tracked t ON t.shop_id = l.shop_id AND t.sku = l.sku
		LEFT JOIN packed p ON p.shop_id = l.shop_id AND p.order_id = l.order_id AND p.line_no = l.line_no
		WHERE (p_shop IS NULL OR o.shop_id = p_shop) AND o.status <> 'cancelled'
		  AND o.delivery_status IN ('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue',
									'partially_shipped')
		UNION ALL
		SELECT r.shop_id, r.order_id, r.sku, 0, r.qty, false
		FROM order_mgmt.reservation r
		WHERE r.state = 'held' AND r.return_id IS NULL AND (p_shop IS NULL OR r.shop_id = p_shop)
	), bad AS (
		SELECT shop_id, order_id, sku, sum(want) AS want, sum(held) AS held
		FROM units
		GROUP BY shop_id, order_id, sku
		HAVING sum(want) <> sum(held) AND NOT (bool_or(digital) AND sum(held) = 0)
	)
	SELECT 'order_holds', b.shop_id,
		   format('order %s (%s, delivery %s): holds %s of sku %s, should hold %s',
				  b.order_id, coalesce(o.status::text, 'missing'), coalesce(o.delivery_status::text, 'missing'),
				  b.held, b.sku, b.want)
	FROM bad b
	LEFT JOIN order_mgmt.orders o ON o.shop_id = b.shop_id AND o.order_id = b.order_id;

	-- Each order in one pass, with its lines, its payments and its reward
	-- points summed beside it:
	--
	-- status_combination: only triples the machines and the cross rules of
	--   SPEC §3 can reach: a cancelled order has not shipped, and its money,
	--   if not returned, rests in refunding (never paid or partially
	--   refunded); a completed order was paid (payment left unpaid, pending
	--   and failed for good), unless it is a cod order that was collected;
	--   delivery stays within its logistics kind (standard: unfulfilled and
	--   on; integrated and cod: not_executed and on); only completed and
	--   cancelled orders are archived.
	-- order_stamps: what the guard stamps (StampRow in order_guard.c) is
	--   there exactly when the status says so: cancelled_at, cancel_source
	--   and cancel_reason while cancelled (a reactivation clears them);
	--   paid_at once payment has reached paid (paid, partially_refunded,
	--   refunding, refunded: none is reached without passing paid), and
	--   kept when an edit_order that raised the total makes a paid order
	--   owe money again (unpaid, then maybe pending or failed: the order
	--   has an edit event; issue 19); shipped_at once delivery has left
	--   pre-shipment;
	--   completed_at while completed.
	-- payment_status: agrees with the money as payment.c sets it, net =
	--   paid_amount - refunded_amount, due = total - credit_applied (store
	--   credit is a tender, store_credit.c): paid needs net >= due; refunded
	--   needs refunded_amount = paid_amount > 0 (or = 0 for an order paid
	--   with store credit only); partially_refunded needs 0 <
	--   refunded_amount < paid_amount; refunding needs money left to return
	--   (paid_amount > refunded_amount), or none ever paid (the guard moves
	--   every cancelled paid order to refunding, an order of total 0 marked
	--   paid too); unpaid, pending and failed need net < due, or nothing
	--   paid at all (an order of total 0 is unpaid until marked paid); and
	--   refunded_amount <= paid_amount.
	-- money: paid_amount and refunded_amount are the sums of the order's
	--   succeeded charges and refunds (payment.c records every charge, an
	--   overpayment or a late capture included, before adding it).
	-- order_total: as checkout.c prices it in the currency's minor units:
	--   subtotal = the lines' unit_price * qty summed, rounded; total =
	--   subtotal - discount + shipping_fee; discount and shipping_fee
	--   rounded; the lines' discounts are a share of the order's discount
	--   (they add up to it, or less: add_lines' lines and free shipping
	--   carry none); the order is in its shop's currency.
	-- returns: a line's returned_qty never exceeds its qty, and only an
	--   order that has shipped has returns.
	-- line_time: each line carries its order's creation time.
	-- rewards: the ledger is earned once per completed order, for its
	--   customer, and never reversed beyond what was earned.
	-- reward_points: what the customer keeps, earned - reversed, is what
	--   automation.c leaves: floor((paid_amount - refunded_amount) * rate)
	--   earned at completion, reversed down to that for the money refunded
	--   later (never below 0, never above what was earned).  The rate is
	--   the shop's; as the ledger does not record it, an order is checked
	--   only if its shop's settings did not change after it completed
	--   (shop.updated_at < completed_at), when that rate is the one its
	--   points were earned and reversed at.
	RETURN QUERY
	WITH ol AS (
		SELECT o.shop_id, o.order_id, o.status, o.payment_status, o.delivery_status, o.logistics,
			   o.currency, o.subtotal, o.discount, o.shipping_fee, o.total, o.paid_amount,
			   o.refunded_amount, o.credit_applied, o.total - o.credit_applied AS due,
			   o.customer_id, o.paid_at, o.shipped_at, o.completed_at,
			   o.cancelled_at, o.cancel_source, o.cancel_reason, o.archived_at,
			   o.delivery_status IN ('unfulfilled', 'not_executed', 'shipment_cancelled',
									 'shipping_overdue') AS pre_shipment,
			   coalesce(sum(l.unit_price * l.qty), 0) AS line_amount,
			   coalesce(sum(l.discount), 0) AS line_discount,
			   string_agg(format('line %s (%s): qty %s, returned %s', l.line_no, l.sku, l.qty,
								 l.returned_qty), '; ')
				   FILTER (WHERE l.returned_qty > l.qty
						   OR (l.returned_qty > 0 AND o.delivery_status IN
							   ('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue')))
				   AS bad_returns,
			   string_agg(format('line %s: ordered_at %s, order created %s', l.line_no, l.ordered_at,
								 o.created_at), '; ')
				   FILTER (WHERE l.ordered_at <> o.created_at) AS bad_times
		FROM order_mgmt.orders o
		LEFT JOIN order_mgmt.order_line l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
		WHERE p_shop IS NULL OR o.shop_id = p_shop
		GROUP BY o.shop_id, o.order_id
	), pay AS (
		SELECT shop_id, order_id,
			   coalesce(sum(amount) FILTER (WHERE kind = 'charge'), 0) AS charged,
			   coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded
		FROM order_mgmt.payment
		WHERE status = 'succeeded' AND (p_shop IS NULL OR shop_id = p_shop)
		GROUP BY shop_id, order_id
	), rw AS (
		SELECT shop_id, order_id, count(*) FILTER (WHERE kind = 'earned') AS earnings,
			   coalesce(sum(points) FILTER (WHERE kind = 'earned'), 0) AS earned,
			   coalesce(sum(points) FILTER (WHERE kind = 'reversed'), 0) AS reversed,
			   min(customer_id) AS customer_lo, max(customer_id) AS customer_hi
		FROM order_mgmt.reward_ledger
		WHERE p_shop IS NULL OR shop_id = p_shop
		GROUP BY shop_id, order_id
	), sh AS MATERIALIZED (	-- minor_units() once per shop
		SELECT s.shop_id, s.currency, order_mgmt.minor_units(s.currency) AS digits,
			   s.reward_rate, s.reward_unit, s.updated_at
		FROM order_mgmt.shop s
		WHERE p_shop IS NULL OR s.shop_id = p_shop
	), k AS (	-- the order beside its payments, points and shop
		SELECT o.*, sh.currency AS shop_currency, sh.digits, sh.reward_rate, sh.reward_unit,
			   sh.updated_at AS shop_updated_at,
			   coalesce(p.charged, 0) AS charged, coalesce(p.refunded, 0) AS refunds,
			   r.order_id IS NOT NULL AS has_points, r.earnings, r.customer_lo, r.customer_hi,
			   coalesce(r.earned, 0) AS earned, coalesce(r.reversed, 0) AS reversed,
			   o.paid_amount - o.refunded_amount AS net,
			   coalesce(r.earned, 0) - coalesce(r.reversed, 0) AS kept,
			   CASE WHEN coalesce(r.earned, 0) > 0
					THEN least(greatest(floor((o.paid_amount - o.refunded_amount) * sh.reward_rate), 0), r.earned)
					ELSE greatest(floor((o.paid_amount - o.refunded_amount) * sh.reward_rate), 0)
			   END AS expected
		FROM ol o
		JOIN sh ON sh.shop_id = o.shop_id
		LEFT JOIN pay p ON p.shop_id = o.shop_id AND p.order_id = o.order_id
		LEFT JOIN rw r ON r.shop_id = o.shop_id AND r.order_id = o.order_id
	), b AS (	-- each check once per order
		SELECT k.*,
			   k.status = 'cancelled' AND NOT k.pre_shipment AS b_shipped,
			   k.status = 'cancelled' AND k.payment_status IN ('paid', 'partially_refunded') AS b_cancelled_paid,
			   k.status = 'completed' AND k.payment_status IN ('unpaid', 'pending', 'failed')
			   AND NOT (k.logistics = 'cod' AND k.delivery_status IN ('collected', 'returning', 'returned', 'arrived'))
				   AS b_completed_unpaid,
			   CASE WHEN k.logistics = 'standard'
					THEN k.delivery_status IN ('not_executed', 'shipment_cancelled', 'shipping_overdue')
					ELSE k.delivery_status = 'unfulfilled' END AS b_logistics,
			   k.archived_at IS NOT NULL AND k.status NOT IN ('completed', 'cancelled') AS b_archived,
			   CASE WHEN k.status = 'cancelled'
					THEN k.cancelled_at IS NULL OR k.cancel_source IS NULL OR k.cancel_reason IS NULL
					ELSE k.cancelled_at IS NOT NULL OR k.cancel_source IS NOT NULL OR k.cancel_reason IS NOT NULL
			   END AS b_cancel,
			   CASE WHEN k.payment_status IN ('paid', 'partially_refunded', 'refunding', 'refunded')
					THEN k.paid_at IS NULL
					ELSE k.paid_at IS NOT NULL
						 AND NOT EXISTS (SELECT FROM order_mgmt.order_event e
										 WHERE e.shop_id = k.shop_id AND e.order_id = k.order_id
										   AND e.kind = 'edit') END AS b_paid_at,
			   (NOT k.pre_shipment) <> (k.shipped_at IS NOT NULL) AS b_shipped_at,
			   (k.status = 'completed') <> (k.completed_at IS NOT NULL) AS b_completed_at,
			   k.refunded_amount > k.paid_amount OR CASE k.payment_status
					WHEN 'paid' THEN k.net < k.due
					WHEN 'refunded' THEN NOT (k.refunded_amount = k.paid_amount
											  AND (k.paid_amount > 0 OR k.credit_applied > 0))
					WHEN 'partially_refunded' THEN NOT (k.refunded_amount > 0 AND k.refunded_amount < k.paid_amount)
					WHEN 'refunding' THEN NOT (k.paid_amount > k.refunded_amount OR k.paid_amount = 0)
					ELSE NOT (k.net < k.due OR k.net = 0) END AS b_payment,
			   k.paid_amount <> k.charged OR k.refunded_amount <> k.refunds AS b_money,
			   k.currency <> k.shop_currency
			   OR k.subtotal <> round(k.line_amount, k.digits)
			   OR k.total <> k.subtotal - k.discount + k.shipping_fee
			   OR k.discount <> round(k.discount, k.digits)
			   OR k.shipping_fee <> round(k.shipping_fee, k.digits)
			   OR k.line_discount > k.discount AS b_total,
			   k.bad_returns IS NOT NULL AS b_returns,
			   k.bad_times IS NOT NULL AS b_line_time,
			   k.has_points
			   AND (k.earnings > 1 OR k.reversed > k.earned OR k.status <> 'completed' OR k.customer_id IS NULL
					OR k.customer_lo <> k.customer_id OR k.customer_hi <> k.customer_id) AS b_rewards,
			   k.status = 'completed' AND k.customer_id IS NOT NULL AND k.reward_rate > 0
			   AND k.reward_unit = 'points'
			   AND k.completed_at > k.shop_updated_at AND k.kept <> k.expected AS b_points
		FROM k
	)
	SELECT c.name, o.shop_id,
		   format('order %s: ', o.order_id) || CASE c.what
			WHEN 'shipped' THEN format('%s / %s / %s: a cancelled order has not shipped',
									   o.status, o.payment_status, o.delivery_status)
			WHEN 'cancelled_paid' THEN format('%s / %s / %s: a cancelled order''s money rests in refunding until it is returned',
											  o.status, o.payment_status, o.delivery_status)
			WHEN 'completed_unpaid' THEN format('%s / %s / %s (%s): a completed order was paid, or is a collected cod order',
												o.status, o.payment_status, o.delivery_status, o.logistics)
			WHEN 'logistics' THEN format('delivery %s is not a state of %s logistics',
										 o.delivery_status, o.logistics)
			WHEN 'archived' THEN format('%s but archived: only completed and cancelled orders are',
									   o.status)
			WHEN 'cancel' THEN format('%s, with cancelled_at %s, cancel_source %s, cancel_reason %s',
									  o.status, coalesce(o.cancelled_at::text, 'null'),
									  coalesce(o.cancel_source::text, 'null'),
									  coalesce(o.cancel_reason::text, 'null'))
			WHEN 'paid_at' THEN format('payment %s, with paid_at %s', o.payment_status,
									   coalesce(o.paid_at::text, 'null'))
			WHEN 'shipped_at' THEN format('delivery %s, with shipped_at %s', o.delivery_status,
										  coalesce(o.shipped_at::text, 'null'))
			WHEN 'completed_at' THEN format('%s, with completed_at %s', o.status,
											coalesce(o.completed_at::text, 'null'))
			WHEN 'payment' THEN format('payment %s, but paid_amount %s, refunded_amount %s, total %s',
									   o.payment_status, o.paid_amount, o.refunded_amount, o.total)
								|| CASE WHEN o.credit_applied > 0
										THEN format(', credit_applied %s', o.credit_applied) ELSE '' END
			WHEN 'money' THEN format('paid_amount %s, succeeded charges %s; refunded_amount %s, succeeded refunds %s',
									 o.paid_amount, o.charged, o.refunded_amount, o.refunds)
			WHEN 'total' THEN format('subtotal %s, lines %s; discount %s, line discounts %s; shipping_fee %s; total %s; %s with %s minor units (shop currency %s)',
									 o.subtotal, o.line_amount, o.discount, o.line_discount,
									 o.shipping_fee, o.total, o.currency, o.digits, o.shop_currency)
			WHEN 'returns' THEN format('delivery %s: %s', o.delivery_status, o.bad_returns)
			WHEN 'line_time' THEN o.bad_times
			WHEN 'rewards' THEN format('%s, customer %s: ledger customer %s, earned %s in %s entries, reversed %s',
									   o.status, coalesce(o.customer_id, 'none'),
									   CASE WHEN o.customer_lo = o.customer_hi THEN o.customer_lo
											ELSE o.customer_lo || ' and ' || o.customer_hi END,
									   o.earned, o.earnings, o.reversed)
			WHEN 'points' THEN format('customer %s keeps %s points (earned %s, reversed %s), expected %s: floor((paid_amount %s - refunded_amount %s) * reward_rate %s)',
									  o.customer_id, o.kept, o.earned, o.reversed, o.expected,
									  o.paid_amount, o.refunded_amount, o.reward_rate)
		   END
	FROM b o
	CROSS JOIN LATERAL (VALUES
		('status_combination', 'shipped', o.b_shipped),
		('status_combination', 'cancelled_paid', o.b_cancelled_paid),
		('status_combination', 'completed_unpaid', o.b_completed_unpaid),
		('status_combination', 'logistics', o.b_logistics),
		('status_combination', 'archived', o.b_archived),
		('order_stamps', 'cancel', o.b_cancel),
		('order_stamps', 'paid_at', o.b_paid_at),
		('order_stamps', 'shipped_at', o.b_shipped_at),
		('order_stamps', 'completed_at', o.b_completed_at),
		('payment_status', 'payment', o.b_payment),
		('money', 'money', o.b_money),
		('order_total', 'total', o.b_total),
		('returns', 'returns', o.b_returns),
		('line_time', 'line_time', o.b_line_time),
		('rewards', 'rewards', o.b_rewards),
		('reward_points', 'points', o.b_points)
	) c(name, what, bad)
	-- only a broken order is taken apart into its checks
	WHERE (o.b_shipped OR o.b_cancelled_paid OR o.b_completed_unpaid OR o.b_logistics OR o.b_archived
		   OR o.b_cancel OR o.b_paid_at OR o.b_shipped_at OR o.b_completed_at OR o.b_payment
		   OR o.b_money OR o.b_total OR o.b_returns OR o.b_line_time OR o.b_rewards OR o.b_points)
	  AND c.bad;

	-- packages (shipment.c, issue 17 item 9): a package's lines are lines
	-- of its own order (not of an exchange's replacement), a line's
	-- packages hold at most what it ordered, and a partially shipped
	-- order has some but not all of its units in packages.  Only orders
	-- with packages or partially shipped are read.
	RETURN QUERY
	WITH pl AS (
		SELECT p.shop_id, p.order_id, p.line_no, sum(p.qty) AS packed,
			   bool_and(s.order_id = p.order_id AND s.return_id IS NULL) AS own
		FROM order_mgmt.shipment_line p
		JOIN order_mgmt.shipment s ON s.shop_id = p.shop_id AND s.shipment_id = p.shipment_id
		WHERE p_shop IS NULL OR p.shop_id = p_shop
		GROUP BY p.shop_id, p.order_id, p.line_no
	), po AS (
		SELECT DISTINCT shop_id, order_id FROM pl
		UNION
		SELECT o.shop_id, o.order_id FROM order_mgmt.orders o
		WHERE (p_shop IS NULL OR o.shop_id = p_shop) AND o.delivery_status = 'partially_shipped'
	), ord AS (
		SELECT o.shop_id, o.order_id, o.delivery_status,
			   sum(l.qty) AS ordered, coalesce(sum(pl.packed), 0) AS packed,
			   string_agg(format('line %s (%s): qty %s, in packages %s%s', l.line_no, l.sku, l.qty, pl.packed,
								 CASE WHEN NOT pl.own THEN ' of another order or an exchange' ELSE '' END), '; ')
				   FILTER (WHERE pl.packed > l.qty OR NOT pl.own) AS bad_lines
		FROM po
		JOIN order_mgmt.orders o ON o.shop_id = po.shop_id AND o.order_id = po.order_id
		JOIN order_mgmt.order_line l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
		LEFT JOIN pl ON pl.shop_id = l.shop_id AND pl.order_id = l.order_id AND pl.line_no = l.line_no
		GROUP BY o.shop_id, o.order_id
	)
	SELECT 'packages', ord.shop_id,
		   format('order %s (delivery %s): ', ord.order_id, ord.delivery_status)
		   || coalesce(ord.bad_lines, format('partially shipped with %s of its %s units in packages',
											  ord.packed, ord.ordered))
	FROM ord
	WHERE ord.bad_lines IS NOT NULL
	   OR (ord.delivery_status = 'partially_shipped' AND NOT (ord.packed > 0 AND ord.packed < ord.ordered));
	-- store credit (store_credit.c): each customer's balance is the sum of
	-- the customer's ledger, never negative, and the last entry's balance;
	-- a ledger without a balance row is broken too
	RETURN QUERY
	SELECT 'store_credit_balance', coalesce(b.shop_id, l.shop_id),
		   format('customer %s: balance %s, ledger sum %s, last entry''s balance %s',
				  coalesce(b.customer_id, l.customer_id), coalesce(b.balance::text, 'none'),
				  coalesce(l.total, 0), coalesce(l.last_balance::text, 'none'))
	FROM (SELECT * FROM order_mgmt.store_credit_balance WHERE p_shop IS NULL OR shop_id = p_shop) b
	FULL JOIN (SELECT shop_id, customer_id, sum(amount) AS total,
					  (array_agg(balance ORDER BY entry_id DESC))[1] AS last_balance
			   FROM order_mgmt.store_credit_ledger
			   WHERE p_shop IS NULL OR shop_id = p_shop
			   GROUP BY shop_id, customer_id) l
		ON l.shop_id = b.shop_id AND l.customer_id = b.customer_id
	WHERE b.balance IS DISTINCT FROM l.total OR b.balance < 0
	   OR b.balance IS DISTINCT FROM l.last_balance;

	-- an order's store credit: what it spent less what came back (the
	-- credit it holds) is credit_applied less what its returns gave back,
	-- or 0 once cancelled; its entries are its customer's
	RETURN QUERY
	SELECT 'store_credit_order', o.shop_id,
		   format('order %s (%s): credit_applied %s, holds %s, returns gave back %s, ledger customer %s',
				  o.order_id, o.status, o.credit_applied, coalesce(l.held, 0), coalesce(r.back, 0),
				  coalesce(l.customer_lo, 'none'))
	FROM order_mgmt.orders o
	LEFT JOIN (SELECT shop_id, order_id,
					  -sum(amount) FILTER (WHERE kind IN ('spent', 'returned')) AS held,
					  min(customer_id) AS customer_lo, max(customer_id) AS customer_hi
			   FROM order_mgmt.store_credit_ledger
			   WHERE order_id IS NOT NULL AND (p_shop IS NULL OR shop_id = p_shop)
			   GROUP BY shop_id, order_id) l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
	LEFT JOIN (SELECT shop_id, order_id, sum(store_credit) AS back
			   FROM order_mgmt.return_request
			   WHERE p_shop IS NULL OR shop_id = p_shop
			   GROUP BY shop_id, order_id) r ON r.shop_id = o.shop_id AND r.order_id = o.order_id
	WHERE (p_shop IS NULL OR o.shop_id = p_shop)
	  AND (o.credit_applied > 0 OR l.order_id IS NOT NULL)
	  AND (coalesce(l.held, 0) <> CASE WHEN o.status = 'cancelled' THEN 0
									   ELSE o.credit_applied - coalesce(r.back, 0) END
		   OR l.customer_lo IS DISTINCT FROM o.customer_id OR l.customer_hi IS DISTINCT FROM o.customer_id);

	-- an exchange holds its replacement only while the request is open
	RETURN QUERY
	SELECT 'exchange_hold', r.shop_id,
		   format('return %s is %s but reservation %s of sku %s is held', r.return_id, q.state,
				  r.reservation_id, r.sku)
	FROM order_mgmt.reservation r
	JOIN order_mgmt.return_request q ON q.shop_id = r.shop_id AND q.return_id = r.return_id
	WHERE (p_shop IS NULL OR r.shop_id = p_shop)
	  AND r.state = 'held' AND q.state NOT IN ('requested', 'approved', 'received');

	-- The event log replays to the current statuses: for each machine, the
	-- order's last event of its kind moved to the status the order is in,
	-- or there is none and the order is still in the machine's first state
	-- (pending; unpaid; unfulfilled for standard logistics, not_executed
	-- for integrated and cod); and the moves chain, the first from that
	-- first state, each from where the one before it went.  One window
	-- pass over the status events, summed up per order beside the order.
	RETURN QUERY
	WITH ev AS (
		SELECT e.shop_id, e.order_id, e.kind, e.event_id, e.from_value, e.to_value,
			   lag(e.to_value) OVER w AS before, lead(e.event_id) OVER w IS NULL AS last
		FROM order_mgmt.order_event e
		WHERE e.kind IN ('order_status', 'payment_status', 'delivery_status')
		  AND (p_shop IS NULL OR e.shop_id = p_shop)
		WINDOW w AS (PARTITION BY e.shop_id, e.order_id, e.kind ORDER BY e.event_id)
	), ends AS (
		SELECT shop_id, order_id,
			   max(from_value) FILTER (WHERE before IS NULL AND kind = 'order_status') AS order_from,
			   max(to_value) FILTER (WHERE last AND kind = 'order_status') AS order_to,
			   max(from_value) FILTER (WHERE before IS NULL AND kind = 'payment_status') AS payment_from,
			   max(to_value) FILTER (WHERE last AND kind = 'payment_status') AS payment_to,
			   max(from_value) FILTER (WHERE before IS NULL AND kind = 'delivery_status') AS delivery_from,
			   max(to_value) FILTER (WHERE last AND kind = 'delivery_status') AS delivery_to,
			   string_agg(format('%s event %s moves from %s, but the status was %s', kind, event_id,
								 from_value, before), '; ')
				   FILTER (WHERE before IS NOT NULL AND from_value IS DISTINCT FROM before) AS breaks
		FROM ev
		GROUP BY shop_id, order_id
	), m AS (
		SELECT o.shop_id, o.order_id, o.status::text AS order_now, o.payment_status::text AS payment_now,
			   o.delivery_status::text AS delivery_now,
			   CASE WHEN o.logistics = 'standard' THEN 'unfulfilled' ELSE 'not_executed' END AS delivery_first,
			   e.order_from, e.order_to, e.payment_from, e.payment_to, e.delivery_from, e.delivery_to,
			   e.breaks
		FROM order_mgmt.orders o
		LEFT JOIN ends e ON e.shop_id = o.shop_id AND e.order_id = o.order_id
		WHERE p_shop IS NULL OR o.shop_id = p_shop
	)
	SELECT 'event_log', m.shop_id,
		   format('order %s: ', m.order_id) || CASE
			WHEN x.machine IS NULL THEN m.breaks
			WHEN x.cur <> coalesce(x.last_to, x.first)
			THEN format('%s is %s, but its event log ends at %s', x.machine, x.cur, coalesce(x.last_to, x.first))
			ELSE format('the first %s event moves from %s, but the status was %s', x.machine, x.first_from, x.first)
		   END
	FROM m
	CROSS JOIN LATERAL (VALUES
		('order_status', m.order_now, 'pending', m.order_from, m.order_to),
		('payment_status', m.payment_now, 'unpaid', m.payment_from, m.payment_to),
		('delivery_status', m.delivery_now, m.delivery_first, m.delivery_from, m.delivery_to),
		(NULL, NULL, NULL, NULL, NULL)
	) x(machine, cur, first, first_from, last_to)
	-- only an order whose log does not replay is taken apart
	WHERE (m.order_now <> coalesce(m.order_to, 'pending')
		   OR m.payment_now <> coalesce(m.payment_to, 'unpaid')
		   OR m.delivery_now <> coalesce(m.delivery_to, m.delivery_first)
		   OR (m.order_to IS NOT NULL AND m.order_from IS DISTINCT FROM 'pending')
		   OR (m.payment_to IS NOT NULL AND m.payment_from IS DISTINCT FROM 'unpaid')
		   OR (m.delivery_to IS NOT NULL AND m.delivery_from IS DISTINCT FROM m.delivery_first)
		   OR m.breaks IS NOT NULL)
	  AND CASE WHEN x.machine IS NULL THEN m.breaks IS NOT NULL
			   ELSE x.cur <> coalesce(x.last_to, x.first)
					OR (x.last_to IS NOT NULL AND x.first_from IS DISTINCT FROM x.first) END;

	-- orphans (issue 21): the rows whose foreign keys were dropped from the
	-- write path (only order_mgmt's functions write them, for an order they
	-- locked or just inserted; orders are never deleted, and keep_referenced
	-- keeps a SKU, shop or promo code that rows refer to): each refers to an
	-- existing order, SKU, shop or code.  Rows made otherwise (by the owner,
	-- with the triggers off, or a TRUNCATE on Citus) are found here.
	RETURN QUERY
	WITH child AS (
		SELECT 'order_line' AS t, c.shop_id, c.order_id, format('line %s', c.line_no) AS what
		FROM order_mgmt.order_line c WHERE p_shop IS NULL OR c.shop_id = p_shop
		UNION ALL
		SELECT 'reservation', c.shop_id, c.order_id, format('reservation %s', c.reservation_id)
		FROM order_mgmt.reservation c WHERE p_shop IS NULL OR c.shop_id = p_shop
		UNION ALL
		SELECT 'promo_redemption', c.shop_id, c.order_id, format('redemption of code %s', c.code_key)
		FROM order_mgmt.promo_redemption c WHERE p_shop IS NULL OR c.shop_id = p_shop
		UNION ALL
		SELECT 'payment', c.shop_id, c.order_id, format('payment %s', c.payment_id)
		FROM order_mgmt.payment c WHERE p_shop IS NULL OR c.shop_id = p_shop
		UNION ALL
		SELECT 'order_event', c.shop_id, c.order_id, format('event %s', c.event_id)
		FROM order_mgmt.order_event c WHERE p_shop IS NULL OR c.shop_id = p_shop
		UNION ALL
		SELECT 'due_action', c.shop_id, c.order_id, format('due action %s', c.action)
		FROM order_mgmt.due_action c WHERE p_shop IS NULL OR c.shop_id = p_shop
		UNION ALL
		SELECT 'shipment', c.shop_id, c.order_id, format('shipment %s', c.shipment_id)
		FROM order_mgmt.shipment c WHERE p_shop IS NULL OR c.shop_id = p_shop
		UNION ALL
		SELECT 'reward_ledger', c.shop_id, c.order_id, format('reward entry %s', c.entry_id)
		FROM order_mgmt.reward_ledger c WHERE p_shop IS NULL OR c.shop_id = p_shop
		UNION ALL
		SELECT 'store_credit_ledger', c.shop_id, c.order_id, format('store credit entry %s', c.entry_id)
		FROM order_mgmt.store_credit_ledger c
		WHERE c.order_id IS NOT NULL AND (p_shop IS NULL OR c.shop_id = p_shop)
		UNION ALL
		SELECT 'cancel_feedback', c.shop_id, c.order_id, format('feedback %s', c.feedback_no)
		FROM order_mgmt.cancel_feedback c WHERE p_shop IS NULL OR c.shop_id = p_shop
		UNION ALL
		SELECT 'return_request', c.shop_id, c.order_id, format('return %s', c.return_id)
		FROM order_mgmt.return_request c WHERE p_shop IS NULL OR c.shop_id = p_shop
		UNION ALL
		SELECT 'order_address', c.shop_id, c.order_id, format('%s address version %s', c.kind, c.version)
		FROM order_mgmt.order_address c WHERE p_shop IS NULL OR c.shop_id = p_shop
	)
	SELECT 'orphan_' || c.t || '_order', c.shop_id,
		   format('%s of order %s: no such order', c.what, c.order_id)
	FROM child c
	WHERE NOT EXISTS (SELECT FROM order_mgmt.orders o WHERE o.shop_id = c.shop_id AND o.order_id = c.order_id)
	UNION ALL
	SELECT 'orphan_order_line_sku', l.shop_id,
		   format('order %s line %s: no sku %s', l.order_id, l.line_no, l.sku)
	FROM order_mgmt.order_line l
	WHERE (p_shop IS NULL OR l.shop_id = p_shop)
	  AND NOT EXISTS (SELECT FROM order_mgmt.sku k WHERE k.shop_id = l.shop_id AND k.sku = l.sku)
	UNION ALL
	SELECT 'orphan_orders_shop', o.shop_id, format('order %s: no such shop', o.order_id)
	FROM order_mgmt.orders o
	WHERE (p_shop IS NULL OR o.shop_id = p_shop)
	  AND NOT EXISTS (SELECT FROM order_mgmt.shop s WHERE s.shop_id = o.shop_id)
	UNION ALL
	SELECT 'orphan_orders_customer', o.shop_id,
		   format('order %s: no customer %s', o.order_id, o.customer_id)
	FROM order_mgmt.orders o
	WHERE (p_shop IS NULL OR o.shop_id = p_shop) AND o.customer_id IS NOT NULL
	  AND NOT EXISTS (SELECT FROM order_mgmt.customer c
					  WHERE c.shop_id = o.shop_id AND c.customer_id = o.customer_id)
	UNION ALL
	SELECT 'orphan_promo_redemption_code', r.shop_id,
		   format('redemption of order %s: no code %s', r.order_id, r.code_key)
	FROM order_mgmt.promo_redemption r
	WHERE (p_shop IS NULL OR r.shop_id = p_shop)
	  AND NOT EXISTS (SELECT FROM order_mgmt.promo_code p WHERE p.shop_id = r.shop_id AND p.code_key = r.code_key)
	UNION ALL
	SELECT 'orphan_promo_customer_use_code', u.shop_id,
		   format('counter of %s: no code %s', u.who, u.code_key)
	FROM order_mgmt.promo_customer_use u
	WHERE (p_shop IS NULL OR u.shop_id = p_shop)
	  AND NOT EXISTS (SELECT FROM order_mgmt.promo_code p WHERE p.shop_id = u.shop_id AND p.code_key = u.code_key);
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
	'Checks the invariants (stock and holds against the ledger, promo use, statuses and their stamps, money, totals, returns, rewards, packages, the event log); returns one row per violation, none when consistent';
