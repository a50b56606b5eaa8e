-- order_mgmt demo: a small shop, its stock, and orders whose statuses the
-- database referees.  Run it with: bash test/demo.sh
\set VERBOSITY default
CREATE EXTENSION order_mgmt;
SET TimeZone = 'Asia/Taipei';
SET order_mgmt.clock = '2026-11-20 10:00+08';

\echo
\echo '== 1. A shop in Taipei with two SKUs; the hot one spread over 4 stock buckets'
\o /dev/null
SELECT order_mgmt.create_shop(1, 'Taipei Tea', 'TWD', 'zh-TW', 'Asia/Taipei');
SELECT order_mgmt.update_shop(1, '{"payment_timeout": "30 minutes", "auto_cancel_failed": true}');
SELECT order_mgmt.upsert_sku(1, 'OOLONG-100G', 450, product_id => 'OOLONG', title => 'Oolong 100 g');
SELECT order_mgmt.upsert_sku(1, 'MUG-RED', 390, product_id => 'MUG', title => 'Mug, red',
							 attrs => '{"color": "red"}', stock_buckets => 4);
SELECT order_mgmt.set_stock(1, 'OOLONG-100G', 1);
SELECT order_mgmt.set_stock(1, 'MUG-RED', 10);
\o
SELECT order_mgmt.adjust_stock(1, 'MUG-RED', -2, 'two arrived broken');
SELECT sku, on_hand, reserved, available FROM order_mgmt.stock_level ORDER BY sku;
SELECT bucket, on_hand FROM order_mgmt.stock WHERE sku = 'MUG-RED' ORDER BY bucket;

\echo
\echo '== 2. Customers: e-mail addresses are normalized with ICU'
\o /dev/null
SELECT order_mgmt.upsert_customer(1, 'mary', ' Mary.Lin@Example.COM ', name => 'Mary');
SELECT order_mgmt.upsert_customer(1, 'john', 'ｊｏｈｎ@example.com', name => 'John');
\o
SELECT customer_id, email, email_key FROM order_mgmt.customer ORDER BY 1;

\echo
\echo '== 3. An order walks its three status machines'
INSERT INTO order_mgmt.orders (shop_id, order_id, order_no, customer_id, currency, total)
VALUES (1, 1001, 'TT-1001', 'mary', 'TWD', 450);
UPDATE order_mgmt.orders SET payment_status = 'paid' WHERE order_id = 1001;
UPDATE order_mgmt.orders SET delivery_status = 'shipped' WHERE order_id = 1001;
SET order_mgmt.clock = '2026-11-23 15:00+08';
UPDATE order_mgmt.orders SET delivery_status = 'arrived' WHERE order_id = 1001;
UPDATE order_mgmt.orders SET status = 'completed' WHERE order_id = 1001;
SELECT order_no, status, payment_status, delivery_status, paid_at, shipped_at, completed_at
FROM order_mgmt.orders WHERE order_id = 1001;

\echo
\echo '== 4. Whatever path a write takes, moves outside the machines are refused'
\echo '-- a refund of money never paid:'
INSERT INTO order_mgmt.orders (shop_id, order_id, order_no, customer_id, currency, total)
VALUES (1, 1002, 'TT-1002', 'john', 'TWD', 390);
UPDATE order_mgmt.orders SET payment_status = 'refunded' WHERE order_id = 1002;
\echo '-- cancelling the order that has already shipped:'
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE order_id = 1001;
\echo '-- deleting it:'
DELETE FROM order_mgmt.orders WHERE order_id = 1001;
\echo '-- rewriting history:'
UPDATE order_mgmt.order_event SET actor = 'nobody';

\echo
\echo '== 5. Every move is in the append-only event log, with who made it'
SELECT order_id, kind, from_value, to_value, actor, at FROM order_mgmt.order_event ORDER BY event_id;

\echo
\echo '== 6. The rules, as the C guard holds them (45 moves); the payment machine:'
SELECT from_value, string_agg(to_value, ', ' ORDER BY to_value) AS may_move_to
FROM order_mgmt.transitions WHERE machine = 'payment_status' GROUP BY from_value ORDER BY from_value;

\echo
\echo '== 7. Labels for shop UIs, in five locales'
SELECT value, max(label) FILTER (WHERE locale = 'en') AS en, max(label) FILTER (WHERE locale = 'zh-Hant') AS "zh-Hant",
	   max(label) FILTER (WHERE locale = 'th') AS th, max(label) FILTER (WHERE locale = 'fi') AS fi
FROM order_mgmt.status_label WHERE enum_type = 'order_status' GROUP BY value ORDER BY value;

\echo
\echo '== 8. verify(): no rows means every invariant holds'
SELECT * FROM order_mgmt.verify();
