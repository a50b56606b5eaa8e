-- The reports' floors (issue 21): for each report that reads or returns the
-- most rows, the plain query that reads the same rows and returns them in
-- the same order (or the same groups), with none of the report's own
-- columns, joins or rules.  What a report costs above its floor is its own;
-- the floor is what the rows cost on this machine.  Each counts its rows
-- whole (count(x)), so that every column is made, as a report's RETURN
-- QUERY makes them (under count(*) the planner drops unused columns); and
-- like the reports' queries, they may run in parallel (a MATERIALIZED CTE
-- would not).
-- Times them after gen_orders.sql, in reports.sql's order; at_scale.sh
-- prints the medians.
\set ON_ERROR_STOP 1
SET jit = off;
SELECT timezone AS tz FROM order_mgmt.shop WHERE shop_id = 1 \gset
SELECT '2026-01-01'::timestamp AT TIME ZONE :'tz' AS lo, '2026-04-01'::timestamp AT TIME ZONE :'tz' AS hi \gset
\timing on
-- daily_breakdown: every order of the range, counted and summed per shop-local day
SELECT count(x) FROM (
	SELECT d.day, count(*), sum(o.total)
	FROM (SELECT g::date AS day FROM generate_series(date '2026-01-01', date '2026-03-31', interval '1 day') g) d
	JOIN order_mgmt.orders o ON o.shop_id = 1
	 AND o.created_at >= d.day::timestamp AT TIME ZONE :'tz'
	 AND o.created_at < (d.day + 1)::timestamp AT TIME ZONE :'tz'
	GROUP BY d.day) x;
-- followups: the open orders it returns, their columns from orders, by total
SELECT count(x) FROM (
	SELECT o.order_id, o.order_no, o.customer_id, o.email, o.total, o.payment_status, o.created_at
	FROM order_mgmt.orders o
	WHERE o.shop_id = 1 AND o.status IN ('pending', 'confirmed')
	  AND (o.payment_status IN ('unpaid', 'pending', 'failed')
		   OR (o.payment_status IN ('paid', 'partially_refunded') AND o.delivery_status IN ('arrived', 'collected')))
	ORDER BY o.total DESC, o.created_at, o.order_id) x;
-- variant_mix: the product's lines of the range summed per SKU, cancelled orders left out
SELECT count(x) FROM (
	SELECT l.sku, sum(l.qty)
	FROM order_mgmt.order_line l
	JOIN order_mgmt.sku k ON k.shop_id = l.shop_id AND k.sku = l.sku
	WHERE k.shop_id = 1 AND k.product_id = 'TEE' AND l.ordered_at >= :'lo' AND l.ordered_at < :'hi'
	  AND NOT EXISTS (SELECT FROM order_mgmt.orders c
					  WHERE c.shop_id = 1 AND c.order_id = l.order_id AND c.status = 'cancelled'
						AND c.created_at >= :'lo' AND c.created_at < :'hi')
	GROUP BY l.sku) x;
-- stuck: the waiting orders it returns, their columns from orders, oldest first
SELECT count(x) FROM (
	SELECT o.order_id, o.order_no, o.status, o.payment_status, o.delivery_status, o.created_at, o.paid_at
	FROM order_mgmt.orders o
	WHERE o.shop_id = 1 AND o.status NOT IN ('cancelled', 'completed')
	  AND (o.payment_status IN ('unpaid', 'pending', 'failed')
		   OR (o.payment_status = 'paid'
			   AND o.delivery_status IN ('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue',
										 'partially_shipped')))
	  AND o.created_at < order_mgmt.now() - interval '7 days'
	ORDER BY o.created_at, o.order_id) x;
-- cancellations: the cancelled orders of the range with their lines, in cancel order
SELECT count(x) FROM (
	SELECT o.order_id, o.order_no, o.customer_id, o.email, o.total, o.cancel_reason, l.qty, l.sku
	FROM order_mgmt.orders o
	JOIN order_mgmt.order_line l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
	WHERE o.shop_id = 1 AND o.cancelled_at >= :'lo' AND o.cancelled_at < :'hi'
	ORDER BY o.cancelled_at, o.order_id, l.line_no) x;
