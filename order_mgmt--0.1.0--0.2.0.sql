-- order_mgmt upgrade script, 0.1.0 to 0.2.0 (ALTER EXTENSION order_mgmt UPDATE).
\echo Use "ALTER EXTENSION order_mgmt UPDATE TO '0.2.0'" to load this file. \quit

-- Shops upgrade in place: nobody re-creates an extension that holds their
-- orders.  So every schema change from 0.1.0 to 0.2.0 -- a table, column,
-- index, constraint, function, trigger, view, type or enum label, COMMENT,
-- GRANT, pg_extension_config_dump -- goes twice: into src/sql/ (the fresh
-- install of 0.2.0, assembled by the Makefile) and into this file, written
-- so that it carries a 0.1.0 install with its data to the same result.
-- test/t/004_upgrade.pl installs 0.1.0 with data, runs ALTER EXTENSION
-- order_mgmt UPDATE, and compares the schema with a fresh install of 0.2.0;
-- it fails, with the difference, when the two disagree.  A new column goes
-- at the end of its table in src/sql/ too, since ALTER TABLE ADD COLUMN
-- puts it there.
--
-- order_mgmt--0.1.0.sql is released and frozen; never edit it.  Each change
-- below has its own section, headed with its issue.

-- ---- issue 14: verify() complete ----
-- minor_units(currency), which verify() rounds order totals with, and the
-- checks behind verify() as src/sql/60_verify.sql has them (order totals,
-- holds, payment status against the money, stamps, rewards, the event log
-- replayed).

CREATE FUNCTION order_mgmt.minor_units(currency text) RETURNS integer
	AS 'MODULE_PATHNAME', 'om_minor_units'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION order_mgmt.minor_units(text) IS
	'Fraction digits of a currency as ICU reports them (TWD 2, JPY 0, KWD 3): every amount in it is rounded to them';
REVOKE ALL ON FUNCTION order_mgmt.minor_units(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_mgmt.minor_units(text) TO PUBLIC;

CREATE OR REPLACE FUNCTION order_mgmt.check_invariants(p_shop bigint)
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

	-- an order holds its lines, per SKU, from checkout (or reactivation)
	-- until it ships or is cancelled (reservation.c): while it is not
	-- cancelled and its delivery is pre-shipment, its held reservations
	-- are its lines' quantities of every tracked SKU (not digital, or with
	-- a stock row: checkout.c, HoldAgain in order_effects.c); otherwise it
	-- holds nothing.  A completed order that has not shipped still holds
	-- (completing does not touch stock; shipping commits it).  An
	-- exchange's replacement is held for its request (return_id set) and
	-- checked by exchange_hold, not here.  A digital SKU may hold nothing:
	-- its stock row may have come after the order held its lines.
	RETURN QUERY
	WITH tracked AS (
		SELECT k.shop_id, k.sku, k.digital
		FROM order_mgmt.sku k
		WHERE (p_shop IS NULL OR k.shop_id = p_shop)
		  AND (NOT k.digital OR EXISTS (SELECT FROM order_mgmt.stock t
										WHERE t.shop_id = k.shop_id AND t.sku = k.sku))
	), want AS (
		SELECT l.shop_id, l.order_id, l.sku, sum(l.qty) AS qty, bool_and(t.digital) AS digital
		FROM order_mgmt.orders o
		JOIN order_mgmt.order_line l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
		JOIN tracked t ON t.shop_id = l.shop_id AND t.sku = l.sku
		WHERE (p_shop IS NULL OR o.shop_id = p_shop) AND o.status <> 'cancelled'
		  AND o.delivery_status IN ('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue')
		GROUP BY l.shop_id, l.order_id, l.sku
	), held AS (
		SELECT r.shop_id, r.order_id, r.sku, sum(r.qty) AS qty
		FROM order_mgmt.reservation r
		WHERE r.state = 'held' AND r.return_id IS NULL AND (p_shop IS NULL OR r.shop_id = p_shop)
		GROUP BY r.shop_id, r.order_id, r.sku
	), bad AS (
		SELECT coalesce(w.shop_id, h.shop_id) AS shop_id, coalesce(w.order_id, h.order_id) AS order_id,
			   coalesce(w.sku, h.sku) AS sku, coalesce(w.qty, 0) AS want, coalesce(h.qty, 0) AS held
		FROM want w
		FULL JOIN held h ON h.shop_id = w.shop_id AND h.order_id = w.order_id AND h.sku = w.sku
		WHERE coalesce(w.qty, 0) <> coalesce(h.qty, 0) AND NOT (w.digital AND h.qty IS NULL)
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
	--   refunding, refunded: none is reached without passing paid, and none
	--   goes back); shipped_at once delivery has left pre-shipment;
	--   completed_at while completed.
	-- payment_status: agrees with the money as payment.c sets it, net =
	--   paid_amount - refunded_amount: paid needs net >= total; refunded
	--   needs refunded_amount = paid_amount > 0; partially_refunded needs 0 <
	--   refunded_amount < paid_amount; refunding needs money left to return
	--   (paid_amount > refunded_amount), or none ever paid (the guard moves
	--   every cancelled paid order to refunding, an order of total 0 marked
	--   paid too); unpaid, pending and failed need net < total, or nothing
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
			   o.refunded_amount, o.customer_id, o.paid_at, o.shipped_at, o.completed_at,
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
	), sh AS (
		SELECT s.shop_id, s.currency, order_mgmt.minor_units(s.currency) AS digits,
			   s.reward_rate, s.updated_at
		FROM order_mgmt.shop s
		WHERE p_shop IS NULL OR s.shop_id = p_shop
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
			WHEN 'money' THEN format('paid_amount %s, succeeded charges %s; refunded_amount %s, succeeded refunds %s',
									 o.paid_amount, coalesce(p.charged, 0), o.refunded_amount,
									 coalesce(p.refunded, 0))
			WHEN 'total' THEN format('subtotal %s, lines %s; discount %s, line discounts %s; shipping_fee %s; total %s; %s with %s minor units (shop currency %s)',
									 o.subtotal, o.line_amount, o.discount, o.line_discount,
									 o.shipping_fee, o.total, o.currency, sh.digits, sh.currency)
			WHEN 'returns' THEN format('delivery %s: %s', o.delivery_status, o.bad_returns)
			WHEN 'line_time' THEN o.bad_times
			WHEN 'rewards' THEN format('%s, customer %s: ledger customer %s, earned %s in %s entries, reversed %s',
									   o.status, coalesce(o.customer_id, 'none'),
									   CASE WHEN r.customer_lo = r.customer_hi THEN r.customer_lo
											ELSE r.customer_lo || ' and ' || r.customer_hi END,
									   r.earned, r.earnings, r.reversed)
			WHEN 'points' THEN format('customer %s keeps %s points (earned %s, reversed %s), expected %s: floor((paid_amount %s - refunded_amount %s) * reward_rate %s)',
									  o.customer_id, k.kept, coalesce(r.earned, 0),
									  coalesce(r.reversed, 0), k.expected, o.paid_amount,
									  o.refunded_amount, sh.reward_rate)
		   END
	FROM ol o
	JOIN sh ON sh.shop_id = o.shop_id
	LEFT JOIN pay p ON p.shop_id = o.shop_id AND p.order_id = o.order_id
	LEFT JOIN rw r ON r.shop_id = o.shop_id AND r.order_id = o.order_id
	CROSS JOIN LATERAL (
		SELECT o.paid_amount - o.refunded_amount AS net,
			   coalesce(r.earned, 0) - coalesce(r.reversed, 0) AS kept,
			   CASE WHEN coalesce(r.earned, 0) > 0
					THEN least(greatest(floor((o.paid_amount - o.refunded_amount) * sh.reward_rate), 0), r.earned)
					ELSE greatest(floor((o.paid_amount - o.refunded_amount) * sh.reward_rate), 0)
			   END AS expected
	) k
	CROSS JOIN LATERAL (VALUES
		('status_combination', 'shipped', o.status = 'cancelled' AND NOT o.pre_shipment),
		('status_combination', 'cancelled_paid',
		 o.status = 'cancelled' AND o.payment_status IN ('paid', 'partially_refunded')),
		('status_combination', 'completed_unpaid',
		 o.status = 'completed' AND o.payment_status IN ('unpaid', 'pending', 'failed')
		 AND NOT (o.logistics = 'cod' AND o.delivery_status IN ('collected', 'returning', 'returned', 'arrived'))),
		('status_combination', 'logistics',
		 CASE WHEN o.logistics = 'standard'
			  THEN o.delivery_status IN ('not_executed', 'shipment_cancelled', 'shipping_overdue')
			  ELSE o.delivery_status = 'unfulfilled' END),
		('status_combination', 'archived',
		 o.archived_at IS NOT NULL AND o.status NOT IN ('completed', 'cancelled')),
		('order_stamps', 'cancel',
		 CASE WHEN o.status = 'cancelled'
			  THEN o.cancelled_at IS NULL OR o.cancel_source IS NULL OR o.cancel_reason IS NULL
			  ELSE o.cancelled_at IS NOT NULL OR o.cancel_source IS NOT NULL OR o.cancel_reason IS NOT NULL END),
		('order_stamps', 'paid_at',
		 (o.payment_status IN ('paid', 'partially_refunded', 'refunding', 'refunded')) <> (o.paid_at IS NOT NULL)),
		('order_stamps', 'shipped_at', (NOT o.pre_shipment) <> (o.shipped_at IS NOT NULL)),
		('order_stamps', 'completed_at', (o.status = 'completed') <> (o.completed_at IS NOT NULL)),
		('payment_status', 'payment',
		 o.refunded_amount > o.paid_amount OR CASE o.payment_status
			WHEN 'paid' THEN k.net < o.total
			WHEN 'refunded' THEN NOT (o.refunded_amount = o.paid_amount AND o.paid_amount > 0)
			WHEN 'partially_refunded' THEN NOT (o.refunded_amount > 0 AND o.refunded_amount < o.paid_amount)
			WHEN 'refunding' THEN NOT (o.paid_amount > o.refunded_amount OR o.paid_amount = 0)
			ELSE NOT (k.net < o.total OR k.net = 0) END),
		('money', 'money',
		 o.paid_amount <> coalesce(p.charged, 0) OR o.refunded_amount <> coalesce(p.refunded, 0)),
		('order_total', 'total',
		 o.currency <> sh.currency
		 OR o.subtotal <> round(o.line_amount, sh.digits)
		 OR o.total <> o.subtotal - o.discount + o.shipping_fee
		 OR o.discount <> round(o.discount, sh.digits)
		 OR o.shipping_fee <> round(o.shipping_fee, sh.digits)
		 OR o.line_discount > o.discount),
		('returns', 'returns', o.bad_returns IS NOT NULL),
		('line_time', 'line_time', o.bad_times IS NOT NULL),
		('rewards', 'rewards',
		 r.order_id IS NOT NULL
		 AND (r.earnings > 1 OR r.reversed > r.earned OR o.status <> 'completed' OR o.customer_id IS NULL
			  OR r.customer_lo <> o.customer_id OR r.customer_hi <> o.customer_id)),
		('reward_points', 'points',
		 o.status = 'completed' AND o.customer_id IS NOT NULL AND sh.reward_rate > 0
		 AND o.completed_at > sh.updated_at AND k.kept <> k.expected)
	) c(name, what, bad)
	WHERE c.bad;

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
	-- pass over the status events.
	RETURN QUERY
	WITH ev AS MATERIALIZED (
		SELECT e.shop_id, e.order_id, e.kind::text AS machine, e.event_id, e.from_value, e.to_value,
			   lag(e.to_value) OVER w AS before, lead(e.event_id) OVER w IS NULL AS last
		FROM order_mgmt.order_event e
		WHERE e.kind IN ('order_status', 'payment_status', 'delivery_status')
		  AND (p_shop IS NULL OR e.shop_id = p_shop)
		WINDOW w AS (PARTITION BY e.shop_id, e.order_id, e.kind ORDER BY e.event_id)
	), ends AS (
		SELECT shop_id, order_id,
			   max(from_value) FILTER (WHERE before IS NULL AND machine = 'order_status') AS order_from,
			   max(to_value) FILTER (WHERE last AND machine = 'order_status') AS order_to,
			   max(from_value) FILTER (WHERE before IS NULL AND machine = 'payment_status') AS payment_from,
			   max(to_value) FILTER (WHERE last AND machine = 'payment_status') AS payment_to,
			   max(from_value) FILTER (WHERE before IS NULL AND machine = 'delivery_status') AS delivery_from,
			   max(to_value) FILTER (WHERE last AND machine = 'delivery_status') AS delivery_to
		FROM ev
		WHERE before IS NULL OR last
		GROUP BY shop_id, order_id
	)
	SELECT 'event_log', o.shop_id,
		   CASE WHEN m.cur <> coalesce(m.last_to, m.initial)
				THEN format('order %s: %s is %s, but its event log ends at %s',
							o.order_id, m.machine, m.cur, coalesce(m.last_to, m.initial))
				ELSE format('order %s: the first %s event moves from %s, but the status was %s',
							o.order_id, m.machine, m.first_from, m.initial)
		   END
	FROM order_mgmt.orders o
	LEFT JOIN ends e ON e.shop_id = o.shop_id AND e.order_id = o.order_id
	CROSS JOIN LATERAL (VALUES
		('order_status', o.status::text, 'pending', e.order_from, e.order_to),
		('payment_status', o.payment_status::text, 'unpaid', e.payment_from, e.payment_to),
		('delivery_status', o.delivery_status::text,
		 CASE WHEN o.logistics = 'standard' THEN 'unfulfilled' ELSE 'not_executed' END,
		 e.delivery_from, e.delivery_to)
	) m(machine, cur, initial, first_from, last_to)
	WHERE (p_shop IS NULL OR o.shop_id = p_shop)
	  AND (m.cur <> coalesce(m.last_to, m.initial)
		   OR (m.last_to IS NOT NULL AND m.first_from IS DISTINCT FROM m.initial))
	UNION ALL
	SELECT 'event_log', ev.shop_id,
		   format('order %s: %s event %s moves from %s, but the status was %s',
				  ev.order_id, ev.machine, ev.event_id, ev.from_value, ev.before)
	FROM ev
	WHERE ev.before IS NOT NULL AND ev.from_value IS DISTINCT FROM ev.before;
END
$$;

COMMENT ON FUNCTION order_mgmt.verify(bigint) IS
	'Checks the invariants (stock and holds against the ledger, promo use, statuses and their stamps, money, totals, returns, rewards, the event log); returns one row per violation, none when consistent';
-- ---- end of issue 14: verify() complete ----
