-- Issue 17 item 10, seed 001 (SHOPLINE, peak-season order features: "an
-- order is completed only when it no longer needs a return"; a return
-- goes back by 7-11 C2B reverse logistics; refunds by bank transfer) and
-- seed 003 (Metrilo: the EU's 14-day right to return).  The shop's
-- return_window after delivery, the merchant's override, automation that
-- waits for the window, the way back of a return, a refund's method.
-- Shops 1720-1729.
SET order_mgmt.clock = '2027-01-10 10:00+00';
SET TimeZone = 'UTC';
SELECT setval('order_mgmt.order_id_seq', 1720000), setval('order_mgmt.return_id_seq', 1720000);
SELECT order_mgmt.create_shop(s, 'Seed 001 returns ' || s) FROM generate_series(1720, 1723) s;
SELECT count(order_mgmt.upsert_sku(s, k, 500))
FROM generate_series(1720, 1723) s, (VALUES ('TEE-M'), ('TEE-L')) v(k);
SELECT count(order_mgmt.set_stock(s, k, 50))
FROM generate_series(1720, 1723) s, (VALUES ('TEE-M'), ('TEE-L')) v(k);

CREATE FUNCTION seed10_delivered(shop bigint, lines jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint := order_mgmt.checkout(shop, lines);
BEGIN
	PERFORM order_mgmt.mark_paid(shop, o);
	PERFORM order_mgmt.ship(shop, o);
	PERFORM order_mgmt.set_delivery_status(shop, o, 'arrived');
	RETURN o;
END
$$;

-- ===========================================================================
-- The setting: return_window, an interval after delivery; NULL (the
-- default) = no window.  Validated like the other intervals (22023).
-- ===========================================================================
SELECT return_window FROM order_mgmt.shop WHERE shop_id = 1720;
SELECT order_mgmt.update_shop(1720, '{"return_window": "14 days"}');
SELECT return_window FROM order_mgmt.shop WHERE shop_id = 1720;
SELECT order_mgmt.update_shop(1720, '{"return_window": "-1 day"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1720, '{"return_window": "soon"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1721, '{"return_window": "14 days"}');
SELECT order_mgmt.update_shop(1721, '{"return_window": null}');
SELECT return_window FROM order_mgmt.shop WHERE shop_id = 1721;

-- ===========================================================================
-- delivered_at: stamped when delivery first reaches arrived or collected,
-- kept after (collected, a return and back); a plain UPDATE may not set it.
-- ===========================================================================
SELECT order_mgmt.checkout(1720, '[{"sku": "TEE-M", "qty": 2}]') AS o1 \gset
SELECT order_mgmt.mark_paid(1720, :o1);
SELECT order_mgmt.ship(1720, :o1) > 0 AS shipped;
SELECT delivery_status, delivered_at FROM order_mgmt.orders WHERE order_id = :o1;
SET order_mgmt.clock = '2027-01-11 10:00+00';
SELECT order_mgmt.set_delivery_status(1720, :o1, 'arrived');
SET order_mgmt.clock = '2027-01-12 10:00+00';
SELECT order_mgmt.set_delivery_status(1720, :o1, 'collected');
SELECT delivery_status, delivered_at FROM order_mgmt.orders WHERE order_id = :o1;
UPDATE order_mgmt.orders SET delivered_at = '2027-01-20 00:00+00' WHERE order_id = :o1;
\echo :LAST_ERROR_SQLSTATE

-- ===========================================================================
-- The window's edges (delivered 2027-01-11 10:00, 14 days): a request is
-- in time until just before 2027-01-25 10:00; at that instant the window
-- has passed (as a payment deadline has at payment_due_at): OM012 with the
-- delivery time, the window, its end and now in the DETAIL.
-- ===========================================================================
SET order_mgmt.clock = '2027-01-25 09:59:59.999999+00';
SELECT order_mgmt.request_return(1720, :o1, '[{"sku": "TEE-M", "qty": 1}]', 'too small') AS r1 \gset
SET order_mgmt.clock = '2027-01-25 10:00+00';
SELECT order_mgmt.request_return(1720, :o1, '[{"sku": "TEE-M", "qty": 1}]', 'too small');
\echo :LAST_ERROR_SQLSTATE
-- an exchange is a request too
SELECT order_mgmt.request_exchange(1720, :o1, 'TEE-M', 'TEE-L');
\echo :LAST_ERROR_SQLSTATE
-- a failed call changed nothing: one request, one return event
SELECT count(*) AS requests FROM order_mgmt.return_request WHERE order_id = :o1;
SELECT reserved FROM order_mgmt.stock_level WHERE shop_id = 1720 AND sku = 'TEE-L';
-- the checks before the window's still come first: more than shipped
SELECT order_mgmt.request_return(1720, :o1, '[{"sku": "TEE-M", "qty": 5}]');
\echo :LAST_ERROR_SQLSTATE

-- an order not yet delivered has its whole window ahead of it
SET order_mgmt.clock = '2027-01-10 10:00+00';
SELECT order_mgmt.checkout(1720, '[{"sku": "TEE-M", "qty": 1}]') AS o2 \gset
SELECT order_mgmt.mark_paid(1720, :o2);
SELECT order_mgmt.ship(1720, :o2) > 0 AS shipped;
SET order_mgmt.clock = '2027-03-01 10:00+00';
SELECT order_mgmt.request_return(1720, :o2, '[{"sku": "TEE-M", "qty": 1}]', 'never wore it') > 0 AS requested;

-- a shop without a window takes returns at any time
SET order_mgmt.clock = '2027-01-10 10:00+00';
SELECT seed10_delivered(1721, '[{"sku": "TEE-M", "qty": 1}]') AS o3 \gset
SET order_mgmt.clock = '2028-01-10 10:00+00';
SELECT order_mgmt.request_return(1721, :o3, '[{"sku": "TEE-M", "qty": 1}]') > 0 AS requested;

-- ===========================================================================
-- The merchant's override: override => true accepts a late request, and
-- the request event says so.  Only order_mgmt_admin (or a superuser) may
-- pass it: the shop backend, order_mgmt_app, acts for customers (42501,
-- even inside the window).
-- ===========================================================================
CREATE ROLE om_seed10_app;
GRANT order_mgmt_app TO om_seed10_app;
CREATE ROLE om_seed10_admin;
GRANT order_mgmt_admin TO om_seed10_admin;
SET order_mgmt.clock = '2027-02-01 10:00+00';
SET ROLE om_seed10_app;
SELECT order_mgmt.request_return(1720, :o1, '[{"sku": "TEE-M", "qty": 1}]', 'late', override => true);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.request_return(1720, :o1, '[{"sku": "TEE-M", "qty": 1}]', 'late');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.request_return(1720, :o2, '[{"sku": "TEE-M", "qty": 1}]', override => true);
\echo :LAST_ERROR_SQLSTATE
SET ROLE om_seed10_admin;
SELECT order_mgmt.cancel_return(1720, :r1);
SELECT order_mgmt.request_exchange(1720, :o1, 'TEE-M', 'TEE-L', 1, override => true) AS x1 \gset
SELECT order_mgmt.request_return(1720, :o1, '[{"sku": "TEE-M", "qty": 1}]', 'late', override => true) AS r2 \gset
RESET ROLE;
SELECT order_mgmt.request_return(1720, :o1, '[{"sku": "TEE-M", "qty": 1}]', override => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT return_id - :r1 AS n, kind, state, reason FROM order_mgmt.return_request WHERE order_id = :o1 ORDER BY return_id;
SELECT actor, to_value, detail - 'return_id' AS detail FROM order_mgmt.order_event
WHERE order_id = :o1 AND kind = 'return' ORDER BY event_id;

-- ===========================================================================
-- The way back (seed 001: at least one return method, 7-11 C2B reverse
-- logistics): method, carrier and tracking number on the request, and
-- set_return_tracking while the goods are on their way, each change an
-- event with what it replaced.
-- ===========================================================================
SET order_mgmt.clock = '2027-01-10 10:00+00';
SELECT seed10_delivered(1720, '[{"sku": "TEE-M", "qty": 2}]') AS o4 \gset
SET order_mgmt.clock = '2027-01-12 10:00+00';
SELECT order_mgmt.request_return(1720, :o4, '[{"sku": "TEE-M", "qty": 1}]', 'too small',
								 method => 'convenience_store', carrier => '7-11') AS r4 \gset
SELECT method, carrier, tracking_no FROM order_mgmt.return_request WHERE return_id = :r4;
SELECT order_mgmt.set_return_tracking(1720, :r4, NULL, 'C2B-0001');
SELECT order_mgmt.approve_return(1720, :r4);
SELECT order_mgmt.set_return_tracking(1720, :r4, '7-ELEVEN', 'C2B-0002', 'convenience_store');
-- the same again changes nothing and writes no event
SELECT order_mgmt.set_return_tracking(1720, :r4, '7-ELEVEN', 'C2B-0002');
SELECT method, carrier, tracking_no FROM order_mgmt.return_request WHERE return_id = :r4;
SELECT to_value, detail - 'return_id' AS detail FROM order_mgmt.order_event
WHERE order_id = :o4 AND kind = 'return' ORDER BY event_id;
-- the app may report it (the customer typed the code); a received return is no longer on its way
SET ROLE om_seed10_app;
SELECT order_mgmt.set_return_tracking(1720, :r4, NULL, 'C2B-0003');
RESET ROLE;
SELECT order_mgmt.receive_return(1720, :r4);
SELECT order_mgmt.set_return_tracking(1720, :r4, NULL, 'C2B-0004');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_return_tracking(1720, :r4, NULL, 'C2B-0004', 'drone');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_return_tracking(1720, 4242424242, NULL, 'C2B-0004');
\echo :LAST_ERROR_SQLSTATE
-- an exchange records its way back too
SELECT order_mgmt.request_exchange(1720, :o4, 'TEE-M', 'TEE-L', 1, method => 'carrier_pickup',
								   carrier => 'black-cat', tracking_no => 'BC-R-1') AS x4 \gset
SELECT kind, method, carrier, tracking_no FROM order_mgmt.return_request WHERE return_id = :x4;

-- ===========================================================================
-- A refund records its method (seed 001: a bank transfer refund, for
-- returns only; a refund as store credit goes onto the customer's balance,
-- seed_001_store_credit).
-- ===========================================================================
SELECT order_mgmt.refund(1720, :o4, 250, 'rf-1720-1', 'half by transfer', method => 'bank_transfer');
SELECT order_mgmt.refund(1720, :o4, 150, NULL, NULL, 'cash');
SELECT order_mgmt.refund(1720, :o4, 100, 'rf-1720-3');
SELECT order_mgmt.refund(1720, :o4, 1, method => 'cheque');
\echo :LAST_ERROR_SQLSTATE
SELECT kind, amount, provider_ref, refund_method FROM order_mgmt.payment WHERE order_id = :o4 ORDER BY payment_id;
SELECT detail FROM order_mgmt.order_event WHERE order_id = :o4 AND kind = 'refund' ORDER BY event_id;
-- a charge has no refund method
DO $$
BEGIN
	INSERT INTO order_mgmt.payment (shop_id, order_id, kind, amount, status, refund_method, created_at)
	VALUES (1720, 1720004, 'charge', 1, 'failed', 'cash', order_mgmt.now());
EXCEPTION WHEN check_violation THEN
	RAISE NOTICE 'refused: %', SQLERRM;
END
$$;

-- ===========================================================================
-- Automation waits for the window (seed 001): a rule completing orders 7
-- days after arrival completes them 14 days after delivery in a shop with
-- a 14-day window; a deadline set before delivery moves to the window's
-- end when the order is delivered; one falling due inside the window (the
-- window was set or lengthened later) moves to its end, with an event;
-- at the window's end exactly, the order completes.  Without a delivery,
-- a shop with a window does not complete the order.
-- ===========================================================================
SET order_mgmt.clock = '2027-01-10 10:00+00';
SELECT order_mgmt.update_shop(1722, '{"return_window": "14 days"}');
SELECT order_mgmt.create_rule(1722, 'complete 7 days after arrival', '{paid}', '{arrived,collected}', '7 days') > 0 AS rule;
SELECT order_mgmt.create_rule(1723, 'complete 1 day after shipment', '{paid}', '{shipped,arrived}', '1 day') > 0 AS rule;
SELECT seed10_delivered(1722, '[{"sku": "TEE-M", "qty": 1}]') AS a1 \gset
SELECT order_id - :a1 AS n, action, due_at FROM order_mgmt.due_action WHERE shop_id = 1722 ORDER BY 1;
-- 1723 has no window yet: shipped, due a day later; the window comes, then the delivery
SELECT order_mgmt.checkout(1723, '[{"sku": "TEE-M", "qty": 1}]') AS b1 \gset
SELECT order_mgmt.mark_paid(1723, :b1);
SELECT order_mgmt.ship(1723, :b1) > 0 AS shipped;
SELECT order_mgmt.checkout(1723, '[{"sku": "TEE-M", "qty": 1}]') AS b2 \gset
SELECT order_mgmt.mark_paid(1723, :b2);
SELECT order_mgmt.ship(1723, :b2) > 0 AS shipped;
SELECT seed10_delivered(1723, '[{"sku": "TEE-M", "qty": 1}]') AS b3 \gset
SELECT order_id - :b1 AS n, action, due_at FROM order_mgmt.due_action WHERE shop_id = 1723 ORDER BY 1;
SELECT order_mgmt.update_shop(1723, '{"return_window": "3 days"}');
SET order_mgmt.clock = '2027-01-10 22:00+00';
SELECT order_mgmt.set_delivery_status(1723, :b1, 'arrived');
SELECT order_id - :b1 AS n, action, due_at FROM order_mgmt.due_action WHERE shop_id = 1723 ORDER BY 1;
-- a day on: b1 waits for its window (moved at delivery), b2 never arrived
-- (it does not complete, its deadline is gone), b3's deadline moves to its
-- window's end
SET order_mgmt.clock = '2027-01-11 10:00+00';
SELECT order_mgmt.run_due_shop(1723) AS done;
SELECT order_id - :b1 AS n, status, delivery_status FROM order_mgmt.orders WHERE shop_id = 1723 ORDER BY 1;
SELECT order_id - :b1 AS n, action, due_at FROM order_mgmt.due_action WHERE shop_id = 1723 ORDER BY 1;
SELECT order_id - :b1 AS n, detail FROM order_mgmt.order_event
WHERE shop_id = 1723 AND kind = 'deadline' ORDER BY event_id;
-- 7 days after arrival, 1722's order waits; at 14 days exactly it completes
SET order_mgmt.clock = '2027-01-17 10:00+00';
SELECT order_mgmt.run_due_shop(1722) AS done;
SET order_mgmt.clock = '2027-01-24 09:59:59+00';
SELECT order_mgmt.run_due_shop(1722) AS done;
SELECT status FROM order_mgmt.orders WHERE order_id = :a1;
SET order_mgmt.clock = '2027-01-24 10:00+00';
SELECT order_mgmt.run_due_shop(1722) AS done;
SELECT status, completed_at FROM order_mgmt.orders WHERE order_id = :a1;
-- 1723's b3 completes at its window's end, lazily: any call on the order applies its deadlines
SET order_mgmt.clock = '2027-01-13 10:00+00';
SELECT order_mgmt.add_note(1723, :b3, 'admin', 'customer called');
SELECT order_id - :b1 AS n, status FROM order_mgmt.orders WHERE shop_id = 1723 ORDER BY 1;
SET order_mgmt.clock = '2027-01-13 22:00+00';
SELECT order_mgmt.run_due_shop(1723) AS done;
SELECT order_id - :b1 AS n, status FROM order_mgmt.orders WHERE shop_id = 1723 ORDER BY 1;

-- ===========================================================================
-- Labels of the new values in the five locales.
-- ===========================================================================
SELECT t.typname, e.enumlabel, count(l.label) AS labels,
	   max(l.label) FILTER (WHERE l.locale = 'en') AS en,
	   max(l.label) FILTER (WHERE l.locale = 'zh-Hant') AS "zh-Hant"
FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
LEFT JOIN order_mgmt.status_label l ON l.enum_type = t.typname AND l.value = e.enumlabel AND l.builtin
WHERE t.typname IN ('return_method', 'refund_method')
GROUP BY t.typname, e.enumlabel, e.enumsortorder ORDER BY t.typname, e.enumsortorder;
SELECT order_mgmt.label('store_credit'::order_mgmt.refund_method, 'zh-TW'),
	   order_mgmt.label('convenience_store'::order_mgmt.return_method, 'th-TH');

DROP FUNCTION seed10_delivered(bigint, jsonb);
REVOKE order_mgmt_app FROM om_seed10_app;
REVOKE order_mgmt_admin FROM om_seed10_admin;
DROP ROLE om_seed10_app;
DROP ROLE om_seed10_admin;
RESET order_mgmt.clock;
RESET TimeZone;
SELECT * FROM order_mgmt.verify();
