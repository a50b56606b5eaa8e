-- order_mgmt demo: a shop in Taipei, the seed 000 story of Mary and John,
-- and what the database referees.  Run it with: bash test/demo.sh
--
-- Conventions for the reader of its output: a line "== n." starts a
-- section, a line "--" explains what comes next or what was just printed,
-- and every statement that is meant to fail is announced by a line
-- "-- expected error: ..." and followed by the SQLSTATE it raised.
\set VERBOSITY default
\pset null '·'
\pset footer off
CREATE EXTENSION order_mgmt;
SET TimeZone = 'Asia/Taipei';
SET order_mgmt.clock = '2026-11-20 10:00+08';

\echo
\echo 'What this is: order_mgmt is a PostgreSQL extension that enforces an online shop''s'
\echo 'order, payment, delivery, stock and promo-code rules inside the database, in C.'
\echo 'Every call below is plain SQL in psql; any client (an ORM, a batch job) gets the same rules.'
\echo 'Times are shown in Asia/Taipei.  The test clock order_mgmt.clock stands at 2026-11-20 10:00'
\echo 'and is moved by hand, so every run prints the same (but for one random pick in section 7).'
\echo '· in a table means NULL.'

\echo
\echo '== 1. A shop in Taipei (currency TWD) whose failed payments are cancelled automatically'
\o /dev/null
SELECT order_mgmt.create_shop(1, 'Taipei Tea', 'TWD', 'zh-TW', 'Asia/Taipei');
SELECT order_mgmt.update_shop(1, '{"payment_timeout": "30 minutes", "auto_cancel_failed": true}');
SELECT order_mgmt.upsert_sku(1, 'TEAPOT-CELADON', 2400, product_id => 'TEAPOT', title => 'Celadon teapot (last one)');
SELECT order_mgmt.upsert_sku(1, 'OOLONG-100G', 450, product_id => 'OOLONG', title => 'Oolong 100 g',
							 stock_buckets => 4);
SELECT order_mgmt.set_stock(1, 'TEAPOT-CELADON', 1);
SELECT order_mgmt.set_stock(1, 'OOLONG-100G', 40);
SELECT order_mgmt.upsert_customer(1, 'mary', ' Mary.Lin@Example.COM ', name => 'Mary');
SELECT order_mgmt.upsert_customer(1, 'john', 'ｊｏｈｎ@example.com', name => 'John');
SELECT order_mgmt.create_promo(1, 'WELCOME100', 'amount', 100, usage_limit => 1);
\o
\echo '-- Two SKUs and their stock.  available = on_hand - reserved (units held by open orders).'
\echo '-- One celadon teapot; 40 packs of oolong, stored as 4 stock rows ("buckets") of 10 (section 7).'
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level ORDER BY sku;
\echo '-- Two customers.  "matched as" is the e-mail key, trimmed and case-folded by ICU (full-width'
\echo '-- letters become ASCII): guest orders and per-customer promo limits match on it.'
SELECT customer_id, email, email_key AS "matched as" FROM order_mgmt.customer ORDER BY 1;
\echo '-- And WELCOME100: 100 TWD off, usable once in all (usage_limit 1).'

\echo
\echo '== 2. Seed 000, stock: Mary checks out the last teapot (available 1 -> 0)'
SELECT order_mgmt.checkout(1, '[{"sku": "TEAPOT-CELADON", "qty": 1}]', customer_id => 'mary',
						   shipping_fee => 60, order_no => 'TT-1001') AS mary \gset
\echo '-- checkout() returns the new order''s id (kept in a psql variable here) and holds its stock.'
\echo '-- The order starts pending / unpaid / unfulfilled; total = subtotal + shipping_fee; it must'
\echo '-- be paid within the shop''s payment_timeout of 30 minutes, by payment_due_at:'
SELECT order_no, status, payment_status, delivery_status, subtotal, shipping_fee, total, payment_due_at
FROM order_mgmt.orders WHERE order_id = :mary;
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level WHERE sku = 'TEAPOT-CELADON';

\echo
\echo '== 3. Her card is declined; the shop auto-cancels her order: the teapot is free again (0 -> 1)'
\echo '-- payment_failed() records the failure and returns the order''s new payment status:'
SELECT order_mgmt.payment_failed(1, :mary, 'card declined', 'psp-771') AS "payment_status is now";
\echo '-- The test clock moves five minutes on.  run_due() performs the deadlines that are due and'
\echo '-- returns how many it did: here one, the auto-cancel of Mary''s failed order (the shop''s'
\echo '-- auto_cancel_delay is 0, so it was due as soon as her payment failed).'
\echo '-- In production a background worker or cron calls it; the demo calls it by hand.'
SET order_mgmt.clock = '2026-11-20 10:05+08';
SELECT order_mgmt.run_due() AS "deadlines performed";
SELECT order_no, status, payment_status, cancel_source, cancel_reason FROM order_mgmt.orders WHERE order_id = :mary;
\echo '-- Cancelling released the unit her order held:'
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level WHERE sku = 'TEAPOT-CELADON';

\echo
\echo '== 4. John buys the teapot and pays (1 -> 0)'
SELECT order_mgmt.checkout(1, '[{"sku": "TEAPOT-CELADON", "qty": 1}]', customer_id => 'john',
						   shipping_fee => 60, order_no => 'TT-1002') AS john \gset
SELECT order_mgmt.payment_succeeded(1, :john, 2460, 'psp-772', 'line_pay') AS "payment_status is now";
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level WHERE sku = 'TEAPOT-CELADON';

\echo
\echo '== 5. Mary wants to pay by bank transfer, so the merchant reactivates her cancelled order'
\echo '-- expected error: OM001 insufficient_stock.  Reactivating must hold the teapot again, and'
\echo '-- John''s order holds the only one.'
SELECT order_mgmt.reactivate(1, :mary);
\echo '   -> SQLSTATE' :LAST_ERROR_SQLSTATE
\echo '-- A failed call changes nothing: her order stays cancelled, its record intact.'
SELECT order_no, status, payment_status FROM order_mgmt.orders WHERE order_id = :mary;
\echo '-- Her transfer arrives anyway.  The money is recorded (paid_amount) and, since the order cannot'
\echo '-- come back, owed back to her: payment_status becomes refunding.  Money is never dropped.'
SELECT order_mgmt.payment_succeeded(1, :mary, 2460, 'bank-0042', 'bank_transfer') AS "payment_status is now";
SELECT order_no, status, payment_status, paid_amount FROM order_mgmt.orders WHERE order_id = :mary;
\echo '-- The merchant sends the money back; refund() returns the new payment status:'
SELECT order_mgmt.refund(1, :mary, 2460, 'bank-0042-back', 'returned to Mary') AS "payment_status is now";

\echo
\echo '== 5b. Seed 000, promo: the single-use code WELCOME100 goes the same way'
\echo '-- Mary types the code in full-width letters, ＷＥＬＣＯＭＥ１００; codes match on their normalized'
\echo '-- key (promo_key), so it is the same code.  It takes 100 off her total:'
SELECT order_mgmt.checkout(1, '[{"sku": "OOLONG-100G", "qty": 1}]', customer_id => 'mary',
						   promo_code => 'ＷＥＬＣＯＭＥ１００', order_no => 'TT-1003') AS mary2 \gset
SELECT order_no, subtotal, discount, total, promo_key FROM order_mgmt.orders WHERE order_id = :mary2;
\echo '-- Her order is cancelled (by the system, payment failed), which gives the code back.'
\echo '-- promo_usage counts live uses (used) and uses given back by cancelled orders (released):'
\o /dev/null
SELECT order_mgmt.cancel(1, :mary2, 'payment_failed', source => 'system');
\o
SELECT code, usage_limit, used, released FROM order_mgmt.promo_usage;
\echo '-- John uses the code (typed in lower case) for his own order:'
SELECT order_mgmt.checkout(1, '[{"sku": "OOLONG-100G", "qty": 1}]', customer_id => 'john',
						   promo_code => 'welcome100', order_no => 'TT-1004') AS john2 \gset
SELECT order_no, discount, total FROM order_mgmt.orders WHERE order_id = :john2;
SELECT code, usage_limit, used, released FROM order_mgmt.promo_usage;
\echo '-- expected error: OM003 promo_code_exhausted.  Reactivating Mary''s order must claim the code'
\echo '-- again, and John used its only use.'
SELECT order_mgmt.reactivate(1, :mary2);
\echo '   -> SQLSTATE' :LAST_ERROR_SQLSTATE
SELECT order_no, status FROM order_mgmt.orders WHERE order_id = :mary2;

\echo
\echo '== 6. John''s teapot ships, here by a plain UPDATE as an admin tool would do it'
\echo '-- The same C triggers judge it and do its side effects: the held unit leaves the warehouse'
\echo '-- (on_hand and reserved both drop by one).'
UPDATE order_mgmt.orders SET delivery_status = 'shipped' WHERE order_id = :john;
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level WHERE sku = 'TEAPOT-CELADON';
\echo '-- expected error: OM005 invalid_transition.  A shipped order cannot be cancelled, whatever'
\echo '-- path the write takes; the way back is a return (section 7b).'
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE order_id = :john;
\echo '   -> SQLSTATE' :LAST_ERROR_SQLSTATE
\echo '-- expected error: OM009 order_delete_forbidden.  Orders are never deleted (archive them instead).'
DELETE FROM order_mgmt.orders WHERE order_id = :john;
\echo '   -> SQLSTATE' :LAST_ERROR_SQLSTATE
\echo '-- expected error: OM009 order_delete_forbidden.  The event log is append-only, even for the'
\echo '-- superuser running this demo.'
UPDATE order_mgmt.order_event SET actor = 'nobody';
\echo '   -> SQLSTATE' :LAST_ERROR_SQLSTATE

\echo
\echo '== 7. A hot SKU spread over 4 stock buckets: orders take from any bucket, and every unit still sells'
\echo '-- 19 orders of 2 packs each.  Checkouts running at the same time would each take a different'
\echo '-- bucket instead of queueing on one row.'
SELECT count(order_mgmt.checkout(1, '[{"sku": "OOLONG-100G", "qty": 2}]')) AS "orders placed"
FROM generate_series(1, 19);
\echo '-- Of the 40 packs, 39 are now held: 38 by these orders and 1 by John''s TT-1004 (Mary''s TT-1003'
\echo '-- gave hers back when it was cancelled).  The one pack left sits in one bucket, picked at random:'
SELECT bucket, on_hand, reserved, on_hand - reserved AS available
FROM order_mgmt.stock WHERE sku = 'OOLONG-100G' ORDER BY bucket;
\echo '-- A checkout of that last pack still finds it (no false "sold out"); it returns the new order_id:'
SELECT order_mgmt.checkout(1, '[{"sku": "OOLONG-100G", "qty": 1}]') AS "order_id of the last pack";
\echo '-- expected error: OM001 insufficient_stock.  Now the oolong is sold out; the DETAIL says how'
\echo '-- many were requested and how many are available.'
SELECT order_mgmt.checkout(1, '[{"sku": "OOLONG-100G", "qty": 1}]');
\echo '   -> SQLSTATE' :LAST_ERROR_SQLSTATE

\echo
\echo '== 7b. After delivery (seed 001): four ways goods come back'
\echo '-- Set-up, not shown: a new harvest of 20 packs of oolong, cups in sizes S (180) and L (220),'
\echo '-- and four orders by John, TT-3001 .. TT-3004, paid, shipped and arrived.'
\o /dev/null
SELECT order_mgmt.adjust_stock(1, 'OOLONG-100G', 20, 'new harvest');
SELECT order_mgmt.upsert_sku(1, 'CUP-S', 180, product_id => 'CUP', attrs => '{"size": "S"}');
SELECT order_mgmt.upsert_sku(1, 'CUP-L', 220, product_id => 'CUP', attrs => '{"size": "L"}');
SELECT order_mgmt.set_stock(1, 'CUP-S', 5);
SELECT order_mgmt.set_stock(1, 'CUP-L', 5);
CREATE TEMP TABLE demo_delivered AS
SELECT o.no, order_mgmt.checkout(1, o.lines, customer_id => 'john', order_no => o.no) AS id
FROM (VALUES ('TT-3001', '[{"sku": "CUP-S", "qty": 2}]'::jsonb),
			 ('TT-3002', '[{"sku": "OOLONG-100G", "qty": 2}]'),
			 ('TT-3003', '[{"sku": "CUP-S", "qty": 1}]'),
			 ('TT-3004', '[{"sku": "CUP-S", "qty": 1}, {"sku": "OOLONG-100G", "qty": 1}]')) o(no, lines);
SELECT order_mgmt.mark_paid(1, id), order_mgmt.ship(1, id), order_mgmt.set_delivery_status(1, id, 'arrived')
FROM demo_delivered;
\o
SELECT id FROM demo_delivered WHERE no = 'TT-3001' \gset full_
SELECT id FROM demo_delivered WHERE no = 'TT-3002' \gset partial_
SELECT id FROM demo_delivered WHERE no = 'TT-3003' \gset only_
SELECT id FROM demo_delivered WHERE no = 'TT-3004' \gset among_
\echo '-- Each request goes requested -> approved -> received (goods back in stock) -> completed;'
\echo '-- an exchange holds its replacement at once and completes when the replacement ships.'
\echo '-- The calls print nothing; the table after them shows where each order ended.'
\o /dev/null
\echo '-- 1. TT-3001, full return: both small cups come back, restocked, all money refunded'
SELECT order_mgmt.request_return(1, :full_id, '[{"sku": "CUP-S", "qty": 2}]', 'chipped') AS r \gset
SELECT order_mgmt.approve_return(1, :r), order_mgmt.receive_return(1, :r);
SELECT order_mgmt.refund(1, :full_id, (SELECT refund_amount FROM order_mgmt.return_request WHERE return_id = :r), 'rf-3001');
\echo '-- 2. TT-3002, partial return: one of two packs of oolong, its price refunded'
SELECT order_mgmt.request_return(1, :partial_id, '[{"sku": "OOLONG-100G", "qty": 1}]', 'opened by mistake') AS r \gset
SELECT order_mgmt.approve_return(1, :r), order_mgmt.receive_return(1, :r);
SELECT order_mgmt.refund(1, :partial_id, (SELECT refund_amount FROM order_mgmt.return_request WHERE return_id = :r), 'rf-3002');
\echo '-- 3. TT-3003, exchange of the only item: the small cup comes back, a large one goes out'
SELECT order_mgmt.request_exchange(1, :only_id, 'CUP-S', 'CUP-L') AS r \gset
SELECT order_mgmt.approve_return(1, :r), order_mgmt.receive_return(1, :r), order_mgmt.ship_exchange(1, :r, 'black-cat', 'BC-EX-3003');
\echo '-- 4. TT-3004, exchange of one item among others: a large cup goes out before the small one'
\echo '--    is back; the tea stays'
SELECT order_mgmt.request_exchange(1, :among_id, 'CUP-S', 'CUP-L') AS r \gset
SELECT order_mgmt.approve_return(1, :r), order_mgmt.ship_exchange(1, :r);
\o
\echo '-- Delivery becomes returned only when every unit came back (TT-3001); refunded_amount is what'
\echo '-- went back to John: 2 x 180 for TT-3001, 1 x 450 for TT-3002.  An exchange moves no money.'
SELECT o.order_no, o.delivery_status, o.payment_status, o.refunded_amount,
	   string_agg(r.kind || ' ' || r.state, ', ') AS requests
FROM order_mgmt.orders o JOIN order_mgmt.return_request r USING (shop_id, order_id)
GROUP BY o.order_no, o.delivery_status, o.payment_status, o.refunded_amount ORDER BY 1;
\echo '-- Cups: 5 S were bought, 4 shipped, 3 came back and were restocked (TT-3004''s is still on its'
\echo '-- way): S on_hand 5 - 4 + 3 = 4.  Two L went out as exchanges: L on_hand 5 - 2 = 3.'
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level WHERE sku LIKE 'CUP%' ORDER BY sku;

\echo
\echo '== 8. Mary''s first order, TT-1001, as the append-only event log tells it'
\echo '-- at is order_mgmt.now() of the change; actor the role that made it (postgres here), or system'
\echo '-- for the deadline run_due() performed.  The late transfer shows as two logged moves, failed ->'
\echo '-- paid -> refunding, and a refund_owed event.  event_id is shared by all orders, so the gaps are'
\echo '-- other orders'' events (and ids drawn by the failed reactivation, rolled back with it).'
\echo '-- detail is cut to 70 characters here.'
SELECT event_id, at::time AS at, actor, kind, from_value, to_value, left(detail::text, 70) AS detail
FROM order_mgmt.order_event WHERE order_id = :mary ORDER BY event_id;

\echo
\echo '== 9. The rules the C guard holds: 56 allowed moves over the three status machines'
SELECT machine, count(*) AS "allowed moves" FROM order_mgmt.transitions GROUP BY machine ORDER BY machine;
\echo '-- The order machine in full (any other move fails with OM005, as in section 6):'
SELECT from_value, string_agg(to_value, ', ' ORDER BY to_value) AS may_move_to
FROM order_mgmt.transitions WHERE machine = 'order_status' GROUP BY from_value ORDER BY from_value;
\echo '-- Every status has a label in five locales, for the shop''s UI (payment statuses shown):'
SELECT value, max(label) FILTER (WHERE locale = 'en') AS en, max(label) FILTER (WHERE locale = 'zh-Hant') AS "zh-Hant",
	   max(label) FILTER (WHERE locale = 'th') AS th, max(label) FILTER (WHERE locale = 'fi') AS fi
FROM order_mgmt.status_label WHERE enum_type = 'payment_status' GROUP BY value ORDER BY value;

\echo
\echo '== 10. Reports for the DBA (seed 002), labels in the shop''s locale, money formatted by ICU'
\echo '-- All 28 orders of the day: TT-1001 .. TT-1004, the 20 orders of section 7, TT-3001 .. TT-3004.'
\echo '-- report_daily_breakdown puts each order''s total in exactly one bucket, refunded money apart:'
\echo '-- unpaid (the 20 orders of section 7 and TT-1004), paid_unshipped (none), shipped (paid and'
\echo '-- on its way or delivered: TT-1002 and what was kept of TT-3002 .. TT-3004), settled (completed:'
\echo '-- none), closed_unpaid (cancelled unpaid: TT-1003), refunded (TT-1001, TT-3001, half of TT-3002).'
\echo '-- total = the sum of the six.  format_money() formats with ICU: zh-TW writes TWD as "$",'
\echo '-- its local symbol; the English locale writes "NT$".'
SELECT day, orders, order_mgmt.format_money(total, 'TWD', 'zh-TW') AS "total (zh-TW)",
	   order_mgmt.format_money(total, 'TWD', 'en') AS "total (en)",
	   unpaid, paid_unshipped, shipped, settled, closed_unpaid, refunded
FROM order_mgmt.report_daily_breakdown(1, '2026-11-20', '2026-11-23');
\echo '-- Lost orders: cancelled without ever being paid (TT-1003; TT-1001 was paid, late), split by'
\echo '-- whether the customer had talked to support; lost_rate = closed / orders.'
SELECT day, orders, closed, lost_rate, closed_after_support, closed_self_service
FROM order_mgmt.report_lost_orders(1, '2026-11-20', '2026-11-23');
\echo '-- Why orders were cancelled and by whom: both (TT-1001, TT-1003) by the system after a failed'
\echo '-- payment; amount is their totals, share the part of all cancelled orders.'
SELECT reason, source, orders, order_mgmt.format_money(amount, 'TWD', 'en') AS amount, share
FROM order_mgmt.report_cancel_reasons(1, '2026-11-20', '2026-11-23');
\echo '-- Units of product CUP sold, net of returns, by size, and a restock of 20 split by that mix:'
\echo '-- only TT-3004''s small cup counts (the others came back; exchanges are not sales).'
SELECT attribute, value, qty, share, restock FROM order_mgmt.report_variant_mix(1, 'CUP', '2026-11-20', '2026-11-23', 20);
\echo '-- The named orders as a zh-TW back office shows them (狀態 status, 付款 payment, 配送 delivery,'
\echo '-- 金額 total), with the delivery status in Thai and Finnish too.  處理中 (pending) only means'
\echo '-- that nobody has confirmed or completed the order yet.'
SELECT order_no, order_mgmt.label(status, 'zh-TW') AS "狀態", order_mgmt.label(payment_status, 'zh-TW') AS "付款",
	   order_mgmt.label(delivery_status, 'zh-TW') AS "配送", order_mgmt.format_money(total, currency, 'zh-TW') AS "金額",
	   order_mgmt.label(delivery_status, 'th-TH') AS th, order_mgmt.label(delivery_status, 'fi-FI') AS fi
FROM order_mgmt.orders WHERE order_no LIKE 'TT-%' ORDER BY order_no;

\echo
\echo '== 10b. Seed 001: one order, two packages, each with its tracking number'
\echo '-- John orders tea and two cups; the tea and one cup leave today, the other cup when the'
\echo '-- kiln delivers.  ship_package() sends some lines (lines, carrier, tracking number, expected'
\echo '-- delivery); the order is partially_shipped and only the package''s units leave the warehouse.'
SELECT order_mgmt.checkout(1, '[{"sku": "OOLONG-100G", "qty": 1}, {"sku": "CUP-L", "qty": 2}]',
						   customer_id => 'john', order_no => 'TT-5001') AS pk \gset
\o /dev/null
SELECT order_mgmt.mark_paid(1, :pk);
\o
SELECT order_mgmt.ship_package(1, :pk, '[{"sku": "OOLONG-100G", "qty": 1}, {"sku": "CUP-L", "qty": 1}]',
							   'black-cat', 'BC-5001', '2026-11-22') AS package_1 \gset
SELECT order_no, delivery_status, order_mgmt.label(delivery_status, 'zh-TW') AS "配送"
FROM order_mgmt.orders WHERE order_id = :pk;
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level WHERE sku = 'CUP-L';
\echo '-- The carrier re-labels the parcel: set_tracking() keeps the old number in a tracking event.'
\echo '-- The first package arrives; the order still waits for its second cup.'
\o /dev/null
SELECT order_mgmt.set_tracking(1, :package_1, tracking_no => 'BC-5001-R');
SELECT order_mgmt.set_shipment_status(1, :package_1, 'arrived');
\o
\echo '-- ship() sends what is left as the second package: the order is shipped (its slowest package).'
SELECT order_mgmt.ship(1, :pk, 'hct', 'HCT-5002') AS package_2 \gset
SELECT s.shipment_id - :package_1 + 1 AS package, s.carrier, s.tracking_no, s.status, s.expected_delivery,
	   string_agg(p.qty || ' x ' || l.sku, ', ' ORDER BY l.sku) AS contents, o.delivery_status AS "order"
FROM order_mgmt.shipment s
JOIN order_mgmt.shipment_line p USING (shop_id, shipment_id)
JOIN order_mgmt.order_line l ON l.shop_id = p.shop_id AND l.order_id = p.order_id AND l.line_no = p.line_no
JOIN order_mgmt.orders o ON o.shop_id = s.shop_id AND o.order_id = s.order_id
WHERE s.order_id = :pk GROUP BY s.shop_id, s.shipment_id, o.delivery_status ORDER BY s.shipment_id;
\echo '-- The parcels'' story in the event log, which an outbox consumer (a tracking app, a "your parcel'
\echo '-- is on its way" e-mail) reads: each package, each move, each tracking change with old and new.'
SELECT kind, from_value, to_value, (detail ->> 'shipment_id')::bigint - :package_1 + 1 AS package
FROM order_mgmt.order_event
WHERE order_id = :pk AND kind IN ('shipment', 'tracking', 'delivery_status') ORDER BY event_id;

\echo '== 10c. Seed 001: a return within the window, by 7-11 C2B, refunded by bank transfer'
\echo '-- The shop gives customers 7 days after delivery to ask for a return (seed 003: the EU gives'
\echo '-- 14); an order is completed only when it no longer needs a return (seed 001).  Set-up, not'
\echo '-- shown: a rule completing orders 3 days after arrival, and Mary''s TT-6001 and John''s TT-6002,'
\echo '-- a pack of oolong each, paid, shipped, and delivered on 11-24.'
\o /dev/null
SET order_mgmt.clock = '2026-11-24 10:00+08';
SELECT order_mgmt.update_shop(1, '{"return_window": "7 days"}');
SELECT order_mgmt.create_rule(1, 'complete 3 days after arrival', '{paid,partially_refunded}', '{arrived,collected}', '3 days');
CREATE TEMP TABLE demo_window AS
SELECT o.no, order_mgmt.checkout(1, '[{"sku": "OOLONG-100G", "qty": 1}]', customer_id => o.who, order_no => o.no) AS id
FROM (VALUES ('TT-6001', 'mary'), ('TT-6002', 'john')) o(no, who);
SELECT order_mgmt.mark_paid(1, id), order_mgmt.ship(1, id, '7-11'), order_mgmt.set_delivery_status(1, id, 'arrived')
FROM demo_window;
\o
SELECT id FROM demo_window WHERE no = 'TT-6001' \gset mary5_
SELECT id FROM demo_window WHERE no = 'TT-6002' \gset john5_
\echo '-- delivered_at is stamped at arrival; the rule''s deadline is not 3 days on but the window''s end:'
SELECT o.order_no, o.delivered_at, o.delivered_at + s.return_window AS "window ends", d.due_at AS "completes at"
FROM order_mgmt.orders o JOIN order_mgmt.shop s USING (shop_id)
LEFT JOIN order_mgmt.due_action d ON d.shop_id = o.shop_id AND d.order_id = o.order_id AND d.action = 'automation_complete'
WHERE o.order_id IN (:mary5_id, :john5_id) ORDER BY 1;
\echo '-- Three days on, Mary asks to send her pack back from a 7-11 (C2B return); the code comes later:'
SET order_mgmt.clock = '2026-11-27 10:00+08';
SELECT order_mgmt.request_return(1, :mary5_id, '[{"sku": "OOLONG-100G", "qty": 1}]', 'wrong tea',
								 method => 'convenience_store', carrier => '7-11') AS r \gset
\o /dev/null
SELECT order_mgmt.set_return_tracking(1, :r, NULL, 'C2B-88123');
SELECT order_mgmt.approve_return(1, :r), order_mgmt.receive_return(1, :r);
SELECT order_mgmt.refund(1, :mary5_id, 450, 'bank-6001-back', 'returned tea', method => 'bank_transfer');
\o
\echo '-- The return with its way back, and the refund with its method (labels for the zh-TW back office):'
SELECT r.state, order_mgmt.label(r.method, 'zh-TW') AS "退貨方式", r.carrier, r.tracking_no,
	   p.amount AS refunded, order_mgmt.label(p.refund_method, 'zh-TW') AS "退款方式"
FROM order_mgmt.return_request r
JOIN order_mgmt.payment p ON p.shop_id = r.shop_id AND p.order_id = r.order_id AND p.kind = 'refund'
WHERE r.return_id = :r;
\echo '-- expected error: OM012 return_not_allowed.  On 12-01, a week after delivery, John''s window has'
\echo '-- passed; the DETAIL says when it ended.  A merchant (order_mgmt_admin) may still accept it'
\echo '-- with override => true.'
SET order_mgmt.clock = '2026-12-01 10:00+08';
SELECT order_mgmt.request_return(1, :john5_id, '[{"sku": "OOLONG-100G", "qty": 1}]', 'changed my mind');
\echo '   -> SQLSTATE' :LAST_ERROR_SQLSTATE
\echo '-- The next call on John''s order (a note here; run_due() in production) applies its deadline: it'
\echo '-- no longer needs a return, so it completes.  Mary''s, all returned and refunded, is closed too.'
\o /dev/null
SELECT order_mgmt.add_note(1, :john5_id, 'admin', 'return refused: after the window');
\o
SELECT order_no, status, payment_status, delivery_status FROM order_mgmt.orders
WHERE order_id IN (:mary5_id, :john5_id) ORDER BY 1;

\echo
\echo '== 10d. Seed 003: an edit instead of a cancellation'
\echo '-- Mary ordered a tea-farm T-shirt in L (TT-7001) and writes that she will cancel: L is too big.'
\echo '-- Support offers M instead (seed 003: offer another size or colour rather than lose the order).'
\echo '-- Set-up, not shown: shirts in M and L, 3 of each.'
\o /dev/null
SET order_mgmt.clock = '2026-12-02 10:00+08';
SELECT order_mgmt.upsert_sku(1, 'TEE-M', 590, product_id => 'TEE', title => 'Tea-farm T-shirt M', attrs => '{"size": "M"}');
SELECT order_mgmt.upsert_sku(1, 'TEE-L', 590, product_id => 'TEE', title => 'Tea-farm T-shirt L', attrs => '{"size": "L"}');
SELECT order_mgmt.set_stock(1, 'TEE-M', 3);
SELECT order_mgmt.set_stock(1, 'TEE-L', 3);
\o
SELECT order_mgmt.checkout(1, '[{"sku": "TEE-L", "qty": 1}]', customer_id => 'mary', order_no => 'TT-7001') AS tee \gset
SELECT lock_version AS tee_v FROM order_mgmt.orders WHERE order_id = :tee \gset
\echo '-- Before: the order holds an L'
SELECT sku, available, reserved FROM order_mgmt.stock_level WHERE shop_id = 1 AND sku LIKE 'TEE-%' ORDER BY sku;
\echo '-- The agent swaps line 1 to M, passing the version read (another agent''s stale edit would be OM013):'
SELECT order_mgmt.edit_order(1, :tee, '[{"op": "swap", "line": 1, "sku": "TEE-M"}]',
							 'L too big: size M instead', expected_version => :tee_v) AS "new version";
\echo '-- After: the hold moved from L to M, the total is unchanged'
SELECT sku, available, reserved FROM order_mgmt.stock_level WHERE shop_id = 1 AND sku LIKE 'TEE-%' ORDER BY sku;
SELECT order_no, total, payment_status FROM order_mgmt.orders WHERE order_id = :tee;
\echo '-- One event records it, each line before and after:'
SELECT detail->'lines' AS lines, detail->'total' AS total, detail->>'reason' AS reason
FROM order_mgmt.order_event WHERE order_id = :tee AND kind = 'edit';

\echo
\echo '== 11. verify() checks every invariant (stock against holds, promo use, money, the event log):'
\echo '-- no rows means everything above left the data consistent.'
\pset footer on
SELECT * FROM order_mgmt.verify();
