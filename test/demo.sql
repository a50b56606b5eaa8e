-- order_mgmt demo: a shop in Taipei, the seed 000 story of Mary and John,
-- and what the database referees.  Run it with: bash test/demo.sh
\set VERBOSITY default
\pset null '·'
CREATE EXTENSION order_mgmt;
SET TimeZone = 'Asia/Taipei';
SET order_mgmt.clock = '2026-11-20 10:00+08';

\echo
\echo '== 1. A shop in Taipei: failed payments are cancelled automatically'
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
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level ORDER BY sku;
SELECT customer_id, email, email_key AS "matched as" FROM order_mgmt.customer ORDER BY 1;

\echo
\echo '== 2. Seed 000, stock: Mary checks out the last teapot (available 1 -> 0)'
SELECT order_mgmt.checkout(1, '[{"sku": "TEAPOT-CELADON", "qty": 1}]', customer_id => 'mary',
						   shipping_fee => 60, order_no => 'TT-1001') AS mary \gset
SELECT order_no, status, payment_status, delivery_status, subtotal, shipping_fee, total, payment_due_at
FROM order_mgmt.orders WHERE order_id = :mary;
SELECT sku, available FROM order_mgmt.stock_level WHERE sku = 'TEAPOT-CELADON';

\echo
\echo '== 3. Her card is declined; the shop auto-cancels her order: the teapot is free again (0 -> 1)'
SELECT order_mgmt.payment_failed(1, :mary, 'card declined', 'psp-771');
SET order_mgmt.clock = '2026-11-20 10:05+08';
SELECT order_mgmt.run_due() AS "deadlines done";
SELECT order_no, status, payment_status, cancel_source, cancel_reason FROM order_mgmt.orders WHERE order_id = :mary;
SELECT sku, available FROM order_mgmt.stock_level WHERE sku = 'TEAPOT-CELADON';

\echo
\echo '== 4. John buys the teapot and pays (1 -> 0)'
SELECT order_mgmt.checkout(1, '[{"sku": "TEAPOT-CELADON", "qty": 1}]', customer_id => 'john',
						   shipping_fee => 60, order_no => 'TT-1002') AS john \gset
SELECT order_mgmt.payment_succeeded(1, :john, 2460, 'psp-772', 'line_pay');
SELECT sku, available FROM order_mgmt.stock_level WHERE sku = 'TEAPOT-CELADON';

\echo
\echo '== 5. Mary wants to pay by bank transfer; the merchant reactivates her order: insufficient_stock (OM001)'
SELECT order_mgmt.reactivate(1, :mary);
\echo '-- her order stays cancelled, its record intact:'
SELECT order_no, status, payment_status FROM order_mgmt.orders WHERE order_id = :mary;
\echo '-- her transfer arrives anyway: the money is recorded and owed back, never dropped'
SELECT order_mgmt.payment_succeeded(1, :mary, 2460, 'bank-0042', 'bank_transfer');
SELECT order_no, status, payment_status, paid_amount FROM order_mgmt.orders WHERE order_id = :mary;
SELECT order_mgmt.refund(1, :mary, 2460, 'bank-0042-back', 'returned to Mary');

\echo
\echo '== 5b. Seed 000, promo: the single-use code ＷＥＬＣＯＭＥ１００ (typed full-width) goes the same way'
SELECT order_mgmt.checkout(1, '[{"sku": "OOLONG-100G", "qty": 1}]', customer_id => 'mary',
						   promo_code => 'ＷＥＬＣＯＭＥ１００', order_no => 'TT-1003') AS mary2 \gset
SELECT order_no, subtotal, discount, total, promo_key FROM order_mgmt.orders WHERE order_id = :mary2;
SELECT order_mgmt.cancel(1, :mary2, 'payment_failed', source => 'system');
SELECT code, usage_limit, used, released FROM order_mgmt.promo_usage;
SELECT order_mgmt.checkout(1, '[{"sku": "OOLONG-100G", "qty": 1}]', customer_id => 'john',
						   promo_code => 'welcome100', order_no => 'TT-1004') IS NOT NULL AS "John used the code";
SELECT order_mgmt.reactivate(1, :mary2);
SELECT order_no, status FROM order_mgmt.orders WHERE order_id = :mary2;

\echo
\echo '== 6. John''s teapot ships: the held unit leaves the warehouse'
UPDATE order_mgmt.orders SET delivery_status = 'shipped' WHERE order_id = :john;
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level WHERE sku = 'TEAPOT-CELADON';
\echo '-- and it can no longer be cancelled, whatever path the write takes:'
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE order_id = :john;
\echo '-- nor deleted, nor its history rewritten:'
DELETE FROM order_mgmt.orders WHERE order_id = :john;
UPDATE order_mgmt.order_event SET actor = 'nobody';

\echo
\echo '== 7. A hot SKU spread over 4 stock buckets: orders take from any bucket, and every unit still sells'
SELECT count(order_mgmt.checkout(1, '[{"sku": "OOLONG-100G", "qty": 2}]')) AS "orders" FROM generate_series(1, 19);
SELECT bucket, on_hand, reserved FROM order_mgmt.stock WHERE sku = 'OOLONG-100G' ORDER BY bucket;
SELECT order_mgmt.checkout(1, '[{"sku": "OOLONG-100G", "qty": 1}]');

\echo
\echo '== 7b. After delivery (seed 001): four ways goods come back'
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
SELECT no AS full_return, id FROM demo_delivered WHERE no = 'TT-3001' \gset
SELECT no AS partial, id AS partial_id FROM demo_delivered WHERE no = 'TT-3002' \gset
SELECT id AS only_item FROM demo_delivered WHERE no = 'TT-3003' \gset
SELECT id AS among_others FROM demo_delivered WHERE no = 'TT-3004' \gset
\echo '-- 1. full return: both cups come back, restocked, all money refunded'
SELECT order_mgmt.request_return(1, :id, '[{"sku": "CUP-S", "qty": 2}]', 'chipped') AS r \gset
SELECT order_mgmt.approve_return(1, :r), order_mgmt.receive_return(1, :r);
SELECT order_mgmt.refund(1, :id, (SELECT refund_amount FROM order_mgmt.return_request WHERE return_id = :r), 'rf-3001');
\echo '-- 2. partial return: one of two packs'
SELECT order_mgmt.request_return(1, :partial_id, '[{"sku": "OOLONG-100G", "qty": 1}]', 'opened by mistake') AS r \gset
SELECT order_mgmt.approve_return(1, :r), order_mgmt.receive_return(1, :r);
SELECT order_mgmt.refund(1, :partial_id, (SELECT refund_amount FROM order_mgmt.return_request WHERE return_id = :r), 'rf-3002');
\echo '-- 3. exchange of the only item: the small cup for a large one (held at once, shipped when approved)'
SELECT order_mgmt.request_exchange(1, :only_item, 'CUP-S', 'CUP-L') AS r \gset
SELECT order_mgmt.approve_return(1, :r), order_mgmt.receive_return(1, :r), order_mgmt.ship_exchange(1, :r, 'black-cat', 'BC-EX-3003') > 0 AS shipped;
\echo '-- 4. exchange of one item among others: the cup for a large one, the tea stays'
SELECT order_mgmt.request_exchange(1, :among_others, 'CUP-S', 'CUP-L') AS r \gset
SELECT order_mgmt.approve_return(1, :r), order_mgmt.ship_exchange(1, :r) > 0 AS shipped;
SELECT o.order_no, o.delivery_status, o.payment_status, o.refunded_amount,
	   string_agg(r.kind || ' ' || r.state, ', ') AS requests
FROM order_mgmt.orders o JOIN order_mgmt.return_request r USING (shop_id, order_id)
GROUP BY o.order_no, o.delivery_status, o.payment_status, o.refunded_amount ORDER BY 1;
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level WHERE sku LIKE 'CUP%' ORDER BY sku;

\echo
\echo '== 8. Mary''s order, as the append-only event log tells it'
SELECT event_id, at::time AS at, actor, kind, from_value, to_value, detail
FROM order_mgmt.order_event WHERE order_id = :mary ORDER BY event_id;

\echo
\echo '== 9. The rules the C guard holds: 45 moves; the order machine'
SELECT from_value, string_agg(to_value, ', ' ORDER BY to_value) AS may_move_to
FROM order_mgmt.transitions WHERE machine = 'order_status' GROUP BY from_value ORDER BY from_value;
SELECT value, max(label) FILTER (WHERE locale = 'en') AS en, max(label) FILTER (WHERE locale = 'zh-Hant') AS "zh-Hant",
	   max(label) FILTER (WHERE locale = 'th') AS th, max(label) FILTER (WHERE locale = 'fi') AS fi
FROM order_mgmt.status_label WHERE enum_type = 'payment_status' GROUP BY value ORDER BY value;

\echo
\echo '== 10. Reports for the DBA (seed 002), labels in the shop''s locale, money by ICU'
SELECT day, orders, order_mgmt.format_money(total, 'TWD', 'zh-TW') AS total,
	   unpaid, paid_unshipped, shipped, settled, closed_unpaid, refunded
FROM order_mgmt.report_daily_breakdown(1, '2026-11-20', '2026-11-23');
SELECT day, orders, closed, lost_rate, closed_after_support, closed_self_service
FROM order_mgmt.report_lost_orders(1, '2026-11-20', '2026-11-23');
SELECT reason, source, orders, order_mgmt.format_money(amount, 'TWD', 'zh-TW') AS amount, share
FROM order_mgmt.report_cancel_reasons(1, '2026-11-20', '2026-11-23');
SELECT attribute, value, qty, share, restock FROM order_mgmt.report_variant_mix(1, 'CUP', '2026-11-20', '2026-11-23', 20);
SELECT order_no, order_mgmt.label(status, 'zh-TW') AS "狀態", order_mgmt.label(payment_status, 'zh-TW') AS "付款",
	   order_mgmt.label(delivery_status, 'zh-TW') AS "配送", order_mgmt.format_money(total, currency, 'zh-TW') AS "金額",
	   order_mgmt.label(delivery_status, 'th-TH') AS th, order_mgmt.label(delivery_status, 'fi-FI') AS fi
FROM order_mgmt.orders WHERE order_no LIKE 'TT-%' ORDER BY order_no;

\echo
\echo '== 11. verify(): no rows means every invariant holds'
SELECT * FROM order_mgmt.verify();
