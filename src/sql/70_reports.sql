
-- Reports for DBAs (SPEC §14, seeds 002-004).  Days are shop-local
-- (shop.timezone); date ranges include both ends.  PL/pgSQL rather than
-- SQL functions, so that Citus can plan them (SPEC §18).  They run with
-- jit = off: the planner cannot size a per-day range scan, its cost estimate
-- passes jit_above_cost, and compiling then took 0.2 s of a 0.8 s report while
-- the scans it would speed up take less.  They also run with
-- plan_cache_mode = force_custom_plan: PL/pgSQL caches each query's plan, and
-- from the sixth call in a session it may keep a generic plan, one that does
-- not see the shop's size or the range's width.  A dashboard polling over
-- one connection then got the 6th and later calls up to 2.5 times slower
-- (report_recovery 400 -> 1,000 ms at 1M orders); planning costs about 1 ms.

CREATE INDEX orders_cancelled ON order_mgmt.orders (shop_id, cancelled_at) INCLUDE (order_id)
	WHERE cancelled_at IS NOT NULL;
-- variant mix: the cancelled orders by creation time, and a product's lines
-- by SKU and order time, read from the indexes only (issue 21: without the
-- INCLUDE list, 16 bytes of each checkout's WAL, the report visits a heap
-- page per line and takes twice as long)
CREATE INDEX orders_cancelled_created ON order_mgmt.orders (shop_id, created_at) INCLUDE (order_id)
	WHERE status = 'cancelled';
CREATE INDEX order_line_sku_ordered ON order_mgmt.order_line (shop_id, sku, ordered_at)
	INCLUDE (order_id, qty, returned_qty);
-- (no index of the open unpaid orders: followups and stuck also take paid
-- orders, which such an index cannot find, so no plan used it; issue 21)
CREATE INDEX orders_customer_paid ON order_mgmt.orders (shop_id, customer_id, created_at)
	WHERE paid_at IS NOT NULL;
CREATE INDEX order_event_recovery ON order_mgmt.order_event (shop_id, at)
	WHERE kind IN ('payment_status', 'order_status') AND to_value IN ('failed', 'cancelled', 'paid');

-- The instants a shop-local day range covers.
CREATE FUNCTION order_mgmt.shop_day_range(p_shop bigint, from_day date, to_day date,
		OUT tz text, OUT lo timestamptz, OUT hi timestamptz)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, order_mgmt, pg_temp
AS $$
BEGIN
	SELECT s.timezone INTO tz FROM order_mgmt.shop s WHERE s.shop_id = p_shop;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'shop % does not exist', p_shop USING ERRCODE = 'OM014',
			HINT = 'Create it with order_mgmt.create_shop().';
	END IF;
	IF from_day IS NULL OR to_day IS NULL THEN
		RAISE EXCEPTION 'from_day and to_day must not be null' USING ERRCODE = '22023';
	END IF;
	IF NOT isfinite(from_day) OR NOT isfinite(to_day) THEN
		RAISE EXCEPTION 'from_day and to_day must be finite dates'
			USING ERRCODE = '22023', DETAIL = format('Got %s to %s.', from_day, to_day);
	END IF;
	IF to_day < from_day THEN
		RAISE EXCEPTION 'to_day must not be before from_day'
			USING ERRCODE = '22023', DETAIL = format('Got %s to %s.', from_day, to_day);
	END IF;
	-- the reports have a row or an index scan per day: ten years at most
	IF to_day - from_day >= 3660 THEN
		RAISE EXCEPTION 'the range from % to % is too long', from_day, to_day
			USING ERRCODE = '22023', DETAIL = format('It has %s days; at most 3660 are allowed.', to_day - from_day + 1),
			HINT = 'Ask for ten years or less at a time.';
	END IF;
	lo := from_day::timestamp AT TIME ZONE tz;
	hi := (to_day + 1)::timestamp AT TIME ZONE tz;
END
$$;
COMMENT ON FUNCTION order_mgmt.shop_day_range(bigint, date, date) IS
	'The time zone of a shop and the instants its local days from_day..to_day cover (helper of the reports)';

CREATE FUNCTION order_mgmt.report_daily_breakdown(shop_id bigint, from_day date, to_day date)
	RETURNS TABLE (day date, orders bigint, total numeric, unpaid numeric, paid_unshipped numeric,
				   shipped numeric, settled numeric, closed_unpaid numeric, refunded numeric)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	-- row-level security by shop (issue 19): the caller's shop first
	PERFORM order_mgmt.check_shop_access(report_daily_breakdown.shop_id);
	r := order_mgmt.shop_day_range(report_daily_breakdown.shop_id, from_day, to_day);
	RETURN QUERY
	-- one index range scan per shop-local day: 90 days, 90 groups.  Each
	-- order gets its bucket once and is summed into (day, bucket): cheaper
	-- than evaluating one FILTER per bucket on every row (1M orders 0.59 s
	-- -> 0.39 s).
	WITH o AS (
		SELECT d.day,
			   CASE WHEN o.status = 'cancelled' THEN 5			-- closed_unpaid
					WHEN o.status = 'completed' THEN 4			-- settled
					WHEN o.payment_status IN ('unpaid', 'pending', 'failed') THEN 1
					WHEN o.delivery_status IN ('unfulfilled', 'not_executed', 'shipment_cancelled',
											   'shipping_overdue') THEN 2	-- paid_unshipped
					ELSE 3 END AS bucket,						-- shipped
			   o.total,
			   -- money returned or owed back: all of a cancelled order that got money
			   CASE WHEN o.status = 'cancelled' AND o.paid_amount > 0 THEN o.total
					ELSE least(o.refunded_amount, o.total) END AS back
		FROM (SELECT g::date AS day FROM generate_series(from_day, to_day, interval '1 day') g) d
		JOIN order_mgmt.orders o
		  ON o.shop_id = report_daily_breakdown.shop_id
		 AND o.created_at >= d.day::timestamp AT TIME ZONE r.tz
		 AND o.created_at < (d.day + 1)::timestamp AT TIME ZONE r.tz
	), b AS (
		SELECT o.day, o.bucket, count(*) AS n, sum(o.total) AS total, sum(o.back) AS back
		FROM o GROUP BY o.day, o.bucket
	)
	SELECT b.day, sum(b.n)::bigint, sum(b.total),
		   coalesce(sum(b.total - b.back) FILTER (WHERE b.bucket = 1), 0),
		   coalesce(sum(b.total - b.back) FILTER (WHERE b.bucket = 2), 0),
		   coalesce(sum(b.total - b.back) FILTER (WHERE b.bucket = 3), 0),
		   coalesce(sum(b.total - b.back) FILTER (WHERE b.bucket = 4), 0),
		   coalesce(sum(b.total - b.back) FILTER (WHERE b.bucket = 5), 0),
		   coalesce(sum(b.back), 0)
	FROM b GROUP BY b.day ORDER BY b.day;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_daily_breakdown(bigint, date, date) IS
	'Order value per shop-local creation day, split so that total = unpaid + paid_unshipped + shipped + settled + closed_unpaid + refunded (seed 002)';

CREATE FUNCTION order_mgmt.report_lost_orders(shop_id bigint, from_day date, to_day date)
	RETURNS TABLE (day date, orders bigint, closed bigint, lost_rate numeric,
				   closed_after_support bigint, closed_self_service bigint)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	-- row-level security by shop (issue 19): the caller's shop first
	PERFORM order_mgmt.check_shop_access(report_lost_orders.shop_id);
	r := order_mgmt.shop_day_range(report_lost_orders.shop_id, from_day, to_day);
	RETURN QUERY
	WITH o AS (
		SELECT d.day, o.status = 'cancelled' AND o.paid_at IS NULL AND o.paid_amount = 0 AS lost,
			   o.consulted_support
		FROM (SELECT g::date AS day FROM generate_series(from_day, to_day, interval '1 day') g) d
		JOIN order_mgmt.orders o
		  ON o.shop_id = report_lost_orders.shop_id
		 AND o.created_at >= d.day::timestamp AT TIME ZONE r.tz
		 AND o.created_at < (d.day + 1)::timestamp AT TIME ZONE r.tz
	)
	SELECT o.day, count(*), count(*) FILTER (WHERE o.lost),
		   round(count(*) FILTER (WHERE o.lost)::numeric / count(*), 4),
		   count(*) FILTER (WHERE o.lost AND o.consulted_support),
		   count(*) FILTER (WHERE o.lost AND NOT o.consulted_support)
	FROM o GROUP BY o.day ORDER BY o.day;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_lost_orders(bigint, date, date) IS
	'Orders per creation day and those cancelled without ever being paid (lost), split by whether the customer talked to support (seed 002)';

CREATE FUNCTION order_mgmt.report_cancel_reasons(shop_id bigint, from_day date, to_day date)
	RETURNS TABLE (reason order_mgmt.cancel_reason, source order_mgmt.cancel_source, orders bigint,
				   amount numeric, share numeric)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	-- row-level security by shop (issue 19): the caller's shop first
	PERFORM order_mgmt.check_shop_access(report_cancel_reasons.shop_id);
	r := order_mgmt.shop_day_range(report_cancel_reasons.shop_id, from_day, to_day);
	RETURN QUERY
	SELECT o.cancel_reason, o.cancel_source, count(*), sum(o.total),
		   round(count(*)::numeric / sum(count(*)) OVER (), 4)
	FROM order_mgmt.orders o
	WHERE o.shop_id = report_cancel_reasons.shop_id AND o.cancelled_at >= r.lo AND o.cancelled_at < r.hi
	GROUP BY o.cancel_reason, o.cancel_source
	ORDER BY count(*) DESC, o.cancel_reason, o.cancel_source;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_cancel_reasons(bigint, date, date) IS
	'Why orders were cancelled and by whom, by shop-local cancel day: orders, amount, share (seeds 002, 003)';

CREATE FUNCTION order_mgmt.report_followups(shop_id bigint)
	RETURNS TABLE (order_id bigint, order_no text, customer_id text, email text, total numeric,
				   payment_status order_mgmt.payment_status, created_at timestamptz, channel text, why text,
				   followup text, time_left interval, ship_to text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	s order_mgmt.shop;
	now_ timestamptz := order_mgmt.now();
	recent_since timestamptz;
	today record;
BEGIN
	-- row-level security by shop (issue 19): the caller's shop first
	PERFORM order_mgmt.check_shop_access(report_followups.shop_id);
	SELECT * INTO s FROM order_mgmt.shop x WHERE x.shop_id = report_followups.shop_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'shop % does not exist', report_followups.shop_id USING ERRCODE = 'OM014';
	END IF;
	recent_since := now_ - s.followup_window;
	today := order_mgmt.shop_day_range(s.shop_id, (now_ AT TIME ZONE s.timezone)::date,
									   (now_ AT TIME ZONE s.timezone)::date);
	-- The groups of seed 002's follow-ups, each order in one:
	--   closing:     open and unpaid, with time left before its payment
	--                deadline (or, failed, before its auto-cancel);
	--   unpaid:      open and unpaid or failed, with no such time left;
	--   lost:        closed before payment (cancelled, never paid) today,
	--                in the shop's time zone;
	--   unconfirmed: paid and arrived or collected, not completed.
	-- Each takes its channel by the same rules: phone for returning,
	-- high-value or noted customers, SMS for orders younger than
	-- followup_window, else a message.
	RETURN QUERY
	WITH c AS (
		SELECT o.order_id, o.order_no, o.customer_id, o.email, o.total, o.payment_status, o.created_at,
			   o.customer_note,
			   CASE WHEN o.payment_status NOT IN ('unpaid', 'pending', 'failed') THEN 'unconfirmed'
					WHEN o.payment_due_at > now_ OR d.due_at > now_ THEN 'closing'
					ELSE 'unpaid' END AS followup,
			   CASE WHEN o.payment_status IN ('unpaid', 'pending', 'failed')
						 AND greatest(o.payment_due_at, d.due_at) > now_
					THEN greatest(o.payment_due_at, d.due_at) - now_ END AS time_left
		FROM order_mgmt.orders o
		LEFT JOIN order_mgmt.due_action d
			   ON d.shop_id = o.shop_id AND d.order_id = o.order_id AND d.action = 'auto_cancel'
			  AND o.payment_status = 'failed'
		-- open orders only: a completed order (a cod order whose shop
		-- records remittances itself) is not chased
		WHERE o.shop_id = report_followups.shop_id AND o.status IN ('pending', 'confirmed')
		  AND (o.payment_status IN ('unpaid', 'pending', 'failed')
			   OR (o.payment_status IN ('paid', 'partially_refunded')
				   AND o.delivery_status IN ('arrived', 'collected')))
		UNION ALL
		SELECT o.order_id, o.order_no, o.customer_id, o.email, o.total, o.payment_status, o.created_at,
			   o.customer_note, 'lost', NULL::interval
		FROM order_mgmt.orders o
		WHERE o.shop_id = report_followups.shop_id AND o.cancelled_at >= today.lo AND o.cancelled_at < today.hi
		  AND o.status = 'cancelled' AND o.paid_at IS NULL AND o.paid_amount = 0
	)
	-- The sort (199,000 rows at 1M orders, three distinct totals) compares
	-- most pairs on all four keys.  Sorted in a subquery whose columns start
	-- with the keys, it finds them near the front of each tuple instead of
	-- walking past its text columns to the sort keys appended at the end
	-- (nocachegetattr: 19.5% of the report's CPU before, 4% after); the
	-- outer ORDER BY is the same, so the planner sorts nothing again.
	SELECT q.order_id, q.order_no, q.customer_id, q.email, q.total, q.payment_status, q.created_at,
		   q.channel, q.why, q.followup, q.time_left, q.ship_to
	FROM (SELECT array_position(ARRAY['closing', 'unpaid', 'lost', 'unconfirmed'], c.followup) AS rank,
				 c.created_at, c.order_id, c.total, c.order_no, c.customer_id, c.email, c.payment_status,
				 CASE WHEN f.returning OR f.high_value OR f.noted THEN 'phone'
					  WHEN c.created_at > recent_since THEN 'sms'
					  ELSE 'message' END AS channel,
				 concat_ws(', ',
						   CASE WHEN f.returning THEN 'returning customer' END,
						   CASE WHEN f.high_value THEN 'high value' END,
						   CASE WHEN f.noted THEN 'customer note' END,
						   CASE WHEN NOT (f.returning OR f.high_value OR f.noted)
								AND c.created_at > recent_since THEN 'recent' END) AS why,
				 c.followup, c.time_left,
				 -- built only for an order with an address: most have none,
				 -- and the ten calls on NULL cost 3% of the report
				 CASE WHEN sa.address IS NOT NULL THEN
				 NULLIF(concat_ws(', ', sa.address ->> 'name', sa.address ->> 'line1', sa.address ->> 'line2',
								  NULLIF(concat_ws(' ', sa.address ->> 'postal_code', sa.address ->> 'city'), ''),
								  sa.address ->> 'region', sa.address ->> 'country', sa.address ->> 'phone'), '') END AS ship_to
		  FROM c
		  -- the current shipping address (issue 18): the newest version, as a
		  -- join the planner may hash rather than a LATERAL ... LIMIT 1 it
		  -- must probe per order (199,000 index probes, 398,000 buffer hits,
		  -- at 1M orders; stuck and cancellations do the same)
		  LEFT JOIN order_mgmt.order_address sa
				 ON sa.shop_id = report_followups.shop_id AND sa.order_id = c.order_id AND sa.kind = 'shipping'
				AND NOT EXISTS (SELECT FROM order_mgmt.order_address n
								WHERE n.shop_id = sa.shop_id AND n.order_id = sa.order_id AND n.kind = 'shipping'
								  AND n.version > sa.version)
		  -- each customer's first paid order, once, rather than a probe per order
		  LEFT JOIN (SELECT p.customer_id, min(p.created_at) AS first_paid
					 FROM order_mgmt.orders p
					 WHERE p.shop_id = report_followups.shop_id AND p.paid_at IS NOT NULL
					   AND p.customer_id IS NOT NULL
					 GROUP BY p.customer_id) fp ON fp.customer_id = c.customer_id
		  CROSS JOIN LATERAL (SELECT
			  coalesce(fp.first_paid < c.created_at, false) AS returning,
			  s.high_value_threshold IS NOT NULL AND c.total >= s.high_value_threshold AS high_value,
			  c.customer_note IS NOT NULL AS noted) f
		  ORDER BY 1, c.total DESC, c.created_at, c.order_id) q
	ORDER BY q.rank, q.total DESC, q.created_at, q.order_id;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_followups(bigint) IS
	'Orders to follow up (seed 002), by group (followup): closing (unpaid, time_left before the payment deadline or auto-cancel), unpaid (open, unpaid or failed), lost (closed before payment today), unconfirmed (arrived or collected, not completed); most valuable first; channel phone for returning, high-value or noted customers, SMS within followup_window, else a message; ship_to is the current shipping address on one line';

CREATE FUNCTION order_mgmt.report_recovery(shop_id bigint, from_day date, to_day date)
	RETURNS TABLE (day date, failed_or_cancelled bigint, recovered bigint, recovery_rate numeric)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
	-- The lost orders (100,000 of 1,000,000 at scale) are found by key, one
	-- orders_pkey probe each, as intended below.  Costed, a hash join looked
	-- cheaper, and it scanned the whole orders table (through a small ring
	-- when it is larger than a quarter of shared_buffers, so from the OS
	-- every time) to probe a hash of the 100,000 a million times: at
	-- shared_buffers=512MB 0.61 s of CPU against 0.36-0.40 s by key (issue 21).
	SET enable_hashjoin = off
	SET enable_mergejoin = off
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	-- row-level security by shop (issue 19): the caller's shop first
	PERFORM order_mgmt.check_shop_access(report_recovery.shop_id);
	r := order_mgmt.shop_day_range(report_recovery.shop_id, from_day, to_day);
	RETURN QUERY
	WITH x AS (
		-- the failures, cancellations, reactivations and payments of the
		-- shop's orders, once
		SELECT e.order_id,
			   min(e.event_id) FILTER (WHERE (e.kind = 'payment_status' AND e.to_value = 'failed')
										OR (e.kind = 'order_status' AND e.to_value = 'cancelled')) AS lost_at,
			   max(e.event_id) FILTER (WHERE e.kind = 'payment_status' AND e.to_value = 'paid') AS paid_after,
			   max(e.event_id) FILTER (WHERE e.kind = 'order_status' AND e.to_value = 'cancelled') AS cancelled_at,
			   max(e.event_id) FILTER (WHERE e.kind = 'order_status' AND e.from_value = 'cancelled') AS revived_at
		FROM order_mgmt.order_event e
		WHERE e.shop_id = report_recovery.shop_id AND e.kind IN ('payment_status', 'order_status')
		  AND (e.to_value IN ('failed', 'cancelled', 'paid') OR e.from_value = 'cancelled') AND e.at >= r.lo
		GROUP BY e.order_id
	), o AS (
		-- only the orders that failed or were cancelled, found by key;
		-- recovered: paid after the loss, and its last cancellation, if any,
		-- undone by a reactivation before that payment (a late payment that
		-- could not revive the order, money owed back, is no recovery)
		SELECT (o.created_at AT TIME ZONE r.tz)::date AS day, x.lost_at,
			   x.paid_after > x.lost_at
			   AND (x.cancelled_at IS NULL OR (x.revived_at > x.cancelled_at AND x.paid_after > x.revived_at))
				   AS recovered
		FROM x JOIN order_mgmt.orders o ON o.shop_id = report_recovery.shop_id AND o.order_id = x.order_id
		WHERE x.lost_at IS NOT NULL AND o.created_at >= r.lo AND o.created_at < r.hi
	)
	SELECT o.day, count(*) FILTER (WHERE o.lost_at IS NOT NULL),
		   count(*) FILTER (WHERE o.recovered),
		   CASE WHEN count(*) FILTER (WHERE o.lost_at IS NOT NULL) > 0
				THEN round(count(*) FILTER (WHERE o.recovered)::numeric
						   / count(*) FILTER (WHERE o.lost_at IS NOT NULL), 4) END
	FROM o GROUP BY o.day ORDER BY o.day;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_recovery(bigint, date, date) IS
	'Orders per creation day whose payment failed or that were cancelled, and how many were revived and paid afterwards (seed 002: about 40% recovered)';

CREATE FUNCTION order_mgmt.report_variant_mix(shop_id bigint, product_id text, from_day date, to_day date,
		restock_qty integer DEFAULT NULL)
	RETURNS TABLE (attribute text, value text, qty bigint, share numeric, restock integer)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
	-- The planner sizes the product's lines from the SKU filter and the
	-- range as a few thousand when it can be every line of the shop, and then
	-- sorts them all for a merge anti join (spilling 40 MB at a million
	-- lines).  Hashing the cancelled orders and probing with the lines does
	-- not depend on that estimate: 350 ms instead of 520 ms at 1M orders.
	SET enable_mergejoin = off
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	-- row-level security by shop (issue 19): the caller's shop first
	PERFORM order_mgmt.check_shop_access(report_variant_mix.shop_id);
	r := order_mgmt.shop_day_range(report_variant_mix.shop_id, from_day, to_day);
	IF restock_qty < 0 THEN
		RAISE EXCEPTION 'restock_qty must not be negative' USING ERRCODE = '22023';
	END IF;
	RETURN QUERY
	-- the product's lines by SKU and order time, read from one index; the
	-- cancelled orders created in the range, from theirs, are left out with
	-- one hash or merge.  (Given the plain NOT EXISTS, the planner, misjudging the
	-- product's share of the lines, sometimes probed each line's order: 4 s
	-- instead of 0.4 s at a million lines.)  enable_mergejoin = off above
	-- makes that one a hash.
	WITH gone AS MATERIALIZED (
		SELECT c.order_id FROM order_mgmt.orders c
		WHERE c.shop_id = report_variant_mix.shop_id AND c.status = 'cancelled'
		  AND c.created_at >= r.lo AND c.created_at < r.hi
	), per_sku AS (
		SELECT l.sku, sum(l.qty - l.returned_qty) AS qty
		FROM order_mgmt.sku k
		JOIN order_mgmt.order_line l ON l.shop_id = k.shop_id AND l.sku = k.sku
		WHERE k.shop_id = report_variant_mix.shop_id AND k.product_id = report_variant_mix.product_id
		  AND l.ordered_at >= r.lo AND l.ordered_at < r.hi
		  AND NOT EXISTS (SELECT FROM gone g WHERE g.order_id = l.order_id)
		GROUP BY l.sku
	), sold AS (
		SELECT a.key AS attribute, a.value #>> '{}' AS value, sum(p.qty)::bigint AS qty
		FROM per_sku p
		JOIN order_mgmt.sku k ON k.shop_id = report_variant_mix.shop_id AND k.sku = p.sku
		CROSS JOIN LATERAL jsonb_each(k.attrs) a
		GROUP BY 1, 2
	)
	SELECT s.attribute, s.value, s.qty,
		   round(s.qty::numeric / nullif(sum(s.qty) OVER (PARTITION BY s.attribute), 0), 4),
		   CASE WHEN restock_qty IS NOT NULL
				THEN round(restock_qty * s.qty::numeric / nullif(sum(s.qty) OVER (PARTITION BY s.attribute), 0))::int END
	FROM sold s ORDER BY s.attribute, s.qty DESC, s.value;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_variant_mix(bigint, text, date, date, integer) IS
	'Units of a product sold per variant attribute and value, their share, and restock_qty split by that share (seed 002)';

CREATE FUNCTION order_mgmt.report_stuck(shop_id bigint, older_than interval)
	RETURNS TABLE (order_id bigint, order_no text, status order_mgmt.order_status,
				   payment_status order_mgmt.payment_status, delivery_status order_mgmt.delivery_status,
				   since timestamptz, waiting interval, reason text, ship_to text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	-- once, rather than for each order the scan filters
	now_ timestamptz := order_mgmt.now();
BEGIN
	-- row-level security by shop (issue 19): the caller's shop first
	PERFORM order_mgmt.check_shop_access(report_stuck.shop_id);
	IF older_than IS NULL OR older_than < interval '0' THEN
		RAISE EXCEPTION 'older_than must be a non-negative interval' USING ERRCODE = '22023';
	END IF;
	PERFORM FROM order_mgmt.shop s WHERE s.shop_id = report_stuck.shop_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'shop % does not exist', report_stuck.shop_id USING ERRCODE = 'OM014';
	END IF;
	RETURN QUERY
	SELECT o.order_id, o.order_no, o.status, o.payment_status, o.delivery_status, x.since,
		   now_ - x.since, x.reason,
		   -- only for an order with an address (4% of the report's instructions)
		   CASE WHEN sa.address IS NOT NULL
				THEN NULLIF(concat_ws(', ', sa.address ->> 'city', sa.address ->> 'country'), '') END
	FROM order_mgmt.orders o
	CROSS JOIN LATERAL (SELECT
		CASE WHEN o.payment_status IN ('unpaid', 'pending', 'failed') THEN o.created_at ELSE o.paid_at END AS since,
		CASE o.payment_status
			WHEN 'unpaid' THEN 'not paid'
			WHEN 'pending' THEN 'payment still pending'
			WHEN 'failed' THEN 'payment failed'
			ELSE CASE WHEN o.delivery_status = 'partially_shipped' THEN 'paid, only partly shipped'
					  ELSE 'paid but not shipped' END END AS reason) x
	-- the current shipping address (issue 18): the newest version, joined
	-- rather than probed per order (as in report_followups)
	LEFT JOIN order_mgmt.order_address sa
		   ON sa.shop_id = report_stuck.shop_id AND sa.order_id = o.order_id AND sa.kind = 'shipping'
		  AND NOT EXISTS (SELECT FROM order_mgmt.order_address n
						  WHERE n.shop_id = sa.shop_id AND n.order_id = sa.order_id AND n.kind = 'shipping'
							AND n.version > sa.version)
	WHERE o.shop_id = report_stuck.shop_id AND o.status NOT IN ('cancelled', 'completed')
	  AND (o.payment_status IN ('unpaid', 'pending', 'failed')
		   OR (o.payment_status = 'paid'
			   AND o.delivery_status IN ('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue',
										 'partially_shipped')))
	  AND x.since < now_ - older_than
	ORDER BY x.since, o.order_id;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_stuck(bigint, interval) IS
	'Live orders waiting longer than older_than for payment, or paid and not (or only partly) shipped, with the reason and where they ship to (city, country) (seed 004)';

CREATE FUNCTION order_mgmt.report_cancellations(shop_id bigint, from_day date, to_day date)
	RETURNS TABLE (day date, order_id bigint, order_no text, customer_id text, email text,
				   products text, total numeric, reason order_mgmt.cancel_reason,
				   source order_mgmt.cancel_source, note text, feedback text, score integer, ship_to text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	-- row-level security by shop (issue 19): the caller's shop first
	PERFORM order_mgmt.check_shop_access(report_cancellations.shop_id);
	r := order_mgmt.shop_day_range(report_cancellations.shop_id, from_day, to_day);
	-- One pass over the cancelled orders joined to their lines.  The products
	-- list is a window aggregate over each order's lines in line_no order (a
	-- ROWS frame feeds the aggregate in the window's order); the first line's
	-- row carries the whole frame and stands for the order.  Partitioning by
	-- (cancelled_at, order_id), which is the same partition as by order_id,
	-- makes the window's sort also the report's order, so nothing is sorted
	-- twice and orders is read once.  It replaced a string_agg(... ORDER BY)
	-- grouped by order and joined back to orders: 600 -> 470 ms over 150,000
	-- cancelled orders (PostgreSQL 15 sorts each group of an ordered aggregate
	-- on its own).
	RETURN QUERY
	SELECT x.day, x.order_id, x.order_no, x.customer_id, x.email, x.products, x.total,
		   x.cancel_reason, x.cancel_source, x.cancel_note, x.comment, x.score,
		   CASE WHEN sa.address IS NOT NULL
				THEN NULLIF(concat_ws(', ', sa.address ->> 'city', sa.address ->> 'country'), '') END
	FROM (SELECT (o.cancelled_at AT TIME ZONE r.tz)::date AS day, o.cancelled_at, o.order_id, o.order_no,
				 o.customer_id, o.email, o.total, o.cancel_reason, o.cancel_source, o.cancel_note,
				 f.comment, f.score,
				 string_agg(l.qty || ' x ' || coalesce(k.title, l.sku), ', ') FILTER (WHERE l.qty > 0) OVER w AS products,
				 row_number() OVER w AS n
		  FROM order_mgmt.orders o
		  JOIN order_mgmt.order_line l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
		  JOIN order_mgmt.sku k ON k.shop_id = l.shop_id AND k.sku = l.sku
		  -- the current feedback: the latest (no later feedback_no)
		  LEFT JOIN order_mgmt.cancel_feedback f ON f.shop_id = o.shop_id AND f.order_id = o.order_id
			   AND NOT EXISTS (SELECT FROM order_mgmt.cancel_feedback g
							   WHERE g.shop_id = f.shop_id AND g.order_id = f.order_id
								 AND g.feedback_no > f.feedback_no)
		  WHERE o.shop_id = report_cancellations.shop_id AND o.cancelled_at >= r.lo AND o.cancelled_at < r.hi
		  WINDOW w AS (PARTITION BY o.cancelled_at, o.order_id ORDER BY l.line_no
					   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) x
	-- the current shipping address (issue 18): the newest version, joined
	-- rather than probed per order (as in report_followups)
	LEFT JOIN order_mgmt.order_address sa
		   ON sa.shop_id = report_cancellations.shop_id AND sa.order_id = x.order_id AND sa.kind = 'shipping'
		  AND NOT EXISTS (SELECT FROM order_mgmt.order_address n
						  WHERE n.shop_id = sa.shop_id AND n.order_id = sa.order_id AND n.kind = 'shipping'
							AND n.version > sa.version)
	WHERE x.n = 1
	ORDER BY x.cancelled_at, x.order_id;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_cancellations(bigint, date, date) IS
	'Cancelled orders by shop-local cancel day: customer, products, reason, source, the latest feedback and where it was to ship (city, country) (seed 003)';
