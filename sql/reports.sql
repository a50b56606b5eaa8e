-- Reports for DBAs (SPEC §14): an order set that reaches every bucket of the
-- daily breakdown, partial refunds, and orders either side of midnight in
-- the shop's time zone (Asia/Taipei, UTC+8).
SELECT order_mgmt.create_shop(160, 'Report shop', 'TWD', 'zh-TW', 'Asia/Taipei');
SELECT setval('order_mgmt.order_id_seq', 1600000);
SELECT order_mgmt.update_shop(160, '{"high_value_threshold": 1000, "followup_window": "3 days"}');
SELECT order_mgmt.upsert_sku(160, 'TEE-RED-M', 100, product_id => 'TEE', title => 'Tee red M', attrs => '{"color": "red", "size": "M"}');
SELECT order_mgmt.upsert_sku(160, 'TEE-RED-L', 100, product_id => 'TEE', title => 'Tee red L', attrs => '{"color": "red", "size": "L"}');
SELECT order_mgmt.upsert_sku(160, 'TEE-BLUE-M', 100, product_id => 'TEE', title => 'Tee blue M', attrs => '{"color": "blue", "size": "M"}');
SELECT order_mgmt.upsert_sku(160, 'MUG', 1500, title => 'Mug');
SELECT order_mgmt.set_stock(160, sku, 100) FROM (VALUES ('TEE-RED-M'), ('TEE-RED-L'), ('TEE-BLUE-M'), ('MUG')) v(sku);
SELECT order_mgmt.upsert_customer(160, 'regular', 'regular@example.com');
SELECT order_mgmt.upsert_customer(160, 'newbie', 'newbie@example.com');

CREATE FUNCTION rpt_order(at timestamptz, sku text, qty int, cust text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('order_mgmt.clock', at::text, true);
	RETURN order_mgmt.checkout(160, jsonb_build_array(jsonb_build_object('sku', sku, 'qty', qty)),
							   customer_id => cust, payment_timeout => '30 days');
END
$$;

BEGIN;
-- day 1 (2026-03-01 Taipei), including 23:59 Taipei = 15:59 UTC
SELECT rpt_order('2026-03-01 09:00+08', 'TEE-RED-M', 1, 'regular') AS a \gset
SELECT order_mgmt.mark_paid(160, :a);                                            -- paid, unshipped: 100
SELECT rpt_order('2026-03-01 10:00+08', 'TEE-RED-L', 2) AS b \gset              -- unpaid: 200
SELECT rpt_order('2026-03-01 11:00+08', 'TEE-BLUE-M', 1) AS c \gset
SELECT order_mgmt.mark_paid(160, :c);
SELECT order_mgmt.ship(160, :c) > 0;                                             -- shipped: 100
SELECT rpt_order('2026-03-01 12:00+08', 'TEE-RED-M', 3, 'regular') AS d \gset
SELECT order_mgmt.mark_paid(160, :d);
SELECT order_mgmt.ship(160, :d) > 0;
SELECT order_mgmt.complete(160, :d);                                             -- settled: 300
SELECT rpt_order('2026-03-01 13:00+08', 'TEE-RED-L', 1) AS e \gset
SELECT order_mgmt.add_note(160, :e, 'support', 'asked about sizes');
SELECT order_mgmt.cancel(160, :e, 'size_unavailable');                           -- closed unpaid: 100, after support
SELECT rpt_order('2026-03-01 14:00+08', 'TEE-RED-M', 1) AS f \gset
SELECT order_mgmt.mark_paid(160, :f);
-- (customers' own cancellations are recorded by a superuser: cancel() claims no customer source)
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'changed_mind', cancel_source = 'customer'
WHERE shop_id = 160 AND order_id = :f;                                            -- refunded (owed): 100
SELECT rpt_order('2026-03-01 23:59+08', 'MUG', 1) AS g \gset
SELECT order_mgmt.mark_paid(160, :g);
SELECT order_mgmt.refund(160, :g, 300);                                          -- refunded 300 + paid_unshipped 1200
-- day 2 begins at 00:00 Taipei (16:00 UTC the day before)
SELECT rpt_order('2026-03-02 00:00+08', 'TEE-RED-M', 1) AS h \gset
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'shipping_cost', cancel_source = 'customer'
WHERE shop_id = 160 AND order_id = :h;                                            -- closed unpaid, self-service
SELECT rpt_order('2026-03-02 08:00+08', 'TEE-BLUE-M', 2) AS i \gset
SELECT order_mgmt.payment_failed(160, :i, 'declined');                            -- unpaid (failed)
SET LOCAL order_mgmt.clock = '2026-03-02 09:00+08';
SELECT order_mgmt.payment_succeeded(160, :i, 200, 'p-i');                         -- recovered after failing
SELECT order_mgmt.record_feedback(160, :h, 'shipping_cost', 'shipping costs more than the tee', 2);
COMMIT;

SELECT * FROM order_mgmt.report_daily_breakdown(160, '2026-03-01', '2026-03-02');
-- every order's money lands in exactly one bucket, refunds aside
SELECT day, total = unpaid + paid_unshipped + shipped + settled + closed_unpaid + refunded AS adds_up
FROM order_mgmt.report_daily_breakdown(160, '2026-03-01', '2026-03-02');
-- a one-day range cuts at the shop's midnight, not UTC's
SELECT day, orders FROM order_mgmt.report_daily_breakdown(160, '2026-03-02', '2026-03-02');

SELECT * FROM order_mgmt.report_lost_orders(160, '2026-03-01', '2026-03-02');
SELECT * FROM order_mgmt.report_cancel_reasons(160, '2026-03-01', '2026-03-02');
SELECT * FROM order_mgmt.report_recovery(160, '2026-03-01', '2026-03-02');
SELECT * FROM order_mgmt.report_variant_mix(160, 'TEE', '2026-03-01', '2026-03-02', restock_qty => 50);
SELECT day, order_no, customer_id, products, total, reason, source, feedback, score
FROM order_mgmt.report_cancellations(160, '2026-03-01', '2026-03-02');

-- follow-ups: phone for returning, high-value or noted customers; SMS when recent; else a message
BEGIN;
SET LOCAL order_mgmt.clock = '2026-03-03 09:00+08';
SELECT rpt_order('2026-03-03 09:00+08', 'TEE-RED-M', 1, 'regular') AS j \gset
SELECT rpt_order('2026-03-03 09:00+08', 'MUG', 1, 'newbie') AS k \gset
SELECT rpt_order('2026-03-03 09:00+08', 'TEE-RED-L', 1, 'newbie') AS l \gset
SELECT order_mgmt.add_note(160, :l, 'customer', 'please gift wrap');
SELECT rpt_order('2026-03-03 09:00+08', 'TEE-BLUE-M', 1, 'newbie') AS m \gset
COMMIT;
SET order_mgmt.clock = '2026-03-04 12:00+08';
SELECT order_no, customer_id, total, payment_status, channel, why FROM order_mgmt.report_followups(160);
SELECT order_no, reason, waiting FROM order_mgmt.report_stuck(160, '2 days');

-- bad arguments
SELECT * FROM order_mgmt.report_daily_breakdown(999, '2026-03-01', '2026-03-02');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.report_daily_breakdown(160, '2026-03-02', '2026-03-01');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.report_lost_orders(160, NULL, '2026-03-01');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.report_stuck(160, '-1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.report_variant_mix(160, 'TEE', '2026-03-01', '2026-03-02', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.report_followups(999);
\echo :LAST_ERROR_SQLSTATE

-- variant mix agrees with its plain definition (lines of the orders created
-- in the range and not cancelled now), also after a reactivation and a
-- cancel made long after the range
CREATE FUNCTION rpt_mix_plain(lo date, hi date) RETURNS TABLE (attribute text, value text, qty bigint)
LANGUAGE sql AS $$
	SELECT a.key, a.value #>> '{}', sum(l.qty - l.returned_qty)::bigint
	FROM order_mgmt.orders o
	JOIN order_mgmt.order_line l USING (shop_id, order_id)
	JOIN order_mgmt.sku k USING (shop_id, sku), jsonb_each(k.attrs) a
	WHERE o.shop_id = 160 AND k.product_id = 'TEE' AND o.status <> 'cancelled'
	  AND o.created_at >= lo::timestamp AT TIME ZONE 'Asia/Taipei'
	  AND o.created_at < (hi + 1)::timestamp AT TIME ZONE 'Asia/Taipei'
	GROUP BY 1, 2
$$;
BEGIN;
SELECT rpt_order('2026-03-02 10:00+08', 'TEE-RED-M', 4) AS j \gset
SET LOCAL order_mgmt.clock = '2026-03-09 10:00+08';
SELECT order_mgmt.cancel(160, :j, 'changed_mind');
SELECT order_mgmt.reactivate(160, :e);
COMMIT;
SELECT lo, hi, (SELECT count(*) FROM (
		(SELECT attribute, value, qty FROM order_mgmt.report_variant_mix(160, 'TEE', lo, hi)
		 EXCEPT SELECT * FROM rpt_mix_plain(lo, hi))
		UNION ALL
		(SELECT * FROM rpt_mix_plain(lo, hi)
		 EXCEPT SELECT attribute, value, qty FROM order_mgmt.report_variant_mix(160, 'TEE', lo, hi))) d) AS differences,
	   (SELECT sum(qty) FROM order_mgmt.report_variant_mix(160, 'TEE', lo, hi) WHERE attribute = 'color') AS units
FROM (VALUES ('2026-03-01'::date, '2026-03-01'::date), ('2026-03-02', '2026-03-02'),
			 ('2026-03-01', '2026-03-02'), ('2026-03-03', '2026-03-09')) r(lo, hi);
DROP FUNCTION rpt_mix_plain(date, date);

-- cancellations list each order's products in line order (not by SKU or
-- title), and orders cancelled at the same instant by order id; the report
-- agrees, row for row and in order, with its plain definition
BEGIN;
SET LOCAL order_mgmt.clock = '2026-03-02 15:00+08';
SELECT order_mgmt.checkout(160, '[{"sku": "TEE-RED-M", "qty": 2}, {"sku": "TEE-BLUE-M", "qty": 1}]',
						   payment_timeout => '30 days', hold => '1 hour') AS m1 \gset
SELECT order_mgmt.add_lines(160, :m1, '[{"sku": "MUG", "qty": 1}]');	-- line 3, titled before the tees
SELECT order_mgmt.checkout(160, '[{"sku": "TEE-BLUE-M", "qty": 1}, {"sku": "TEE-RED-L", "qty": 3}]',
						   payment_timeout => '30 days') AS m2 \gset
SET LOCAL order_mgmt.clock = '2026-03-02 16:00+08';
SELECT order_mgmt.cancel(160, :m2, 'changed_mind');
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'found_better_price', cancel_source = 'customer'
WHERE shop_id = 160 AND order_id = :m1;
COMMIT;
SELECT order_id = :m1 AS is_m1, products, reason
FROM order_mgmt.report_cancellations(160, '2026-03-02', '2026-03-02')
WHERE order_id IN (:m1, :m2);
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE r IS DISTINCT FROM p) AS differences
FROM (SELECT row_number() OVER () AS i, r FROM order_mgmt.report_cancellations(160, '2026-03-01', '2026-03-09') r) a
FULL JOIN (SELECT row_number() OVER (ORDER BY o.cancelled_at, o.order_id) AS i,
				  ROW((o.cancelled_at AT TIME ZONE 'Asia/Taipei')::date, o.order_id, o.order_no, o.customer_id, o.email,
					  (SELECT string_agg(l.qty || ' x ' || coalesce(k.title, l.sku), ', ' ORDER BY l.line_no)
					   FROM order_mgmt.order_line l JOIN order_mgmt.sku k USING (shop_id, sku)
					   WHERE l.shop_id = o.shop_id AND l.order_id = o.order_id),
					  o.total, o.cancel_reason, o.cancel_source, o.cancel_note, f.comment, f.score,
					  (SELECT NULLIF(concat_ws(', ', a.address ->> 'city', a.address ->> 'country'), '')
					   FROM order_mgmt.order_address a
					   WHERE a.shop_id = o.shop_id AND a.order_id = o.order_id AND a.kind = 'shipping'
					   ORDER BY a.version DESC LIMIT 1))::record AS p
		   FROM order_mgmt.orders o LEFT JOIN order_mgmt.cancel_feedback f USING (shop_id, order_id)
		   WHERE o.shop_id = 160 AND o.cancelled_at IS NOT NULL) b USING (i);
-- every report plans each call for its arguments (see 70_reports.sql)
SELECT p.proname
FROM pg_proc p
WHERE p.pronamespace = 'order_mgmt'::regnamespace AND p.proname LIKE 'report\_%'
  AND NOT coalesce('plan_cache_mode=force_custom_plan' = ANY (p.proconfig), false)
ORDER BY 1;

-- issue 19 (the fuzzer): a report over an infinite or a very long range
-- ran until statement_timeout (a row or a scan per day); now 22023
SELECT order_mgmt.create_shop(1792, 'Fuzz reports');
SELECT * FROM order_mgmt.report_daily_breakdown(1792, '-infinity', '2026-01-01');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.report_lost_orders(1792, '2026-01-01', 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.report_recovery(1792, '4713-01-01 BC', '2026-01-01');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS days FROM order_mgmt.report_lost_orders(1792, '2016-01-02', '2026-01-01');

RESET order_mgmt.clock;
DROP FUNCTION rpt_order(timestamptz, text, int, text);
SELECT * FROM order_mgmt.verify();
