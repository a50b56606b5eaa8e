-- Report-scale data: 1,000,000 orders over 90 days for shop 1 (and 10,000
-- for each of 100 other shops beside it), with lines, payments' effects and
-- the events the recovery report reads.  It writes the tables directly with
-- the guard triggers off (session_replication_role = replica, superuser
-- only), so it takes a minute instead of an hour.  The data is shaped for
-- the reports, not a full history: no payment rows, only the events the
-- recovery report reads and no stock holds, so verify() on it reports
-- event_log, money and order_holds rows (gen_ledgers.sql adds them).
-- It ends with VACUUM ANALYZE, so the reports' index-only scans need no heap.
-- Usage:
--   psql -v orders=1000000 -f test/bench/gen_orders.sql
\set ON_ERROR_STOP 1
\if :{?orders}
\else
\set orders 1000000
\endif
CREATE EXTENSION IF NOT EXISTS order_mgmt;
SELECT setseed(0.42);
\o /dev/null

SELECT order_mgmt.create_shop(s, 'Shop ' || s, 'TWD', 'zh-TW', 'Asia/Taipei')
FROM generate_series(1, 101) s WHERE NOT EXISTS (SELECT FROM order_mgmt.shop WHERE shop_id = s);
SELECT order_mgmt.update_shop(s, '{"high_value_threshold": 3000}') FROM generate_series(1, 101) s;
SELECT order_mgmt.upsert_sku(1, 'TEE-' || c || '-' || z, 390, product_id => 'TEE',
							 attrs => jsonb_build_object('color', c, 'size', z))
FROM unnest(ARRAY['red', 'blue', 'black']) c, unnest(ARRAY['S', 'M', 'L', 'XL']) z;
SELECT order_mgmt.upsert_sku(s, 'SKU-' || g, 100 + g * 10) FROM generate_series(1, 101) s, generate_series(1, 20) g;
SELECT order_mgmt.upsert_customer(s, 'c' || g, 'c' || g || '@example.com')
FROM generate_series(1, 101) s, generate_series(1, 2000) g;

\o
SET session_replication_role = replica;
CREATE TEMP TABLE gen AS
SELECT shop_id, nextval('order_mgmt.order_id_seq') AS order_id,
	   timestamptz '2026-01-01 00:00+08' + random() * interval '90 days' AS created_at,
	   'c' || (1 + floor(random() * 2000))::int AS customer_id,
	   CASE WHEN shop_id = 1 THEN 'TEE-' || (ARRAY['red', 'blue', 'black'])[1 + floor(random() * 3)::int]
			|| '-' || (ARRAY['S', 'M', 'L', 'XL'])[1 + floor(random() * 4)::int]
			ELSE 'SKU-' || (1 + floor(random() * 20))::int END AS sku,
	   1 + floor(random() * 3)::int AS qty,
	   random() AS fate, random() AS support
FROM (SELECT 1 AS shop_id FROM generate_series(1, :orders)
	  UNION ALL SELECT s FROM generate_series(2, 101) s, generate_series(1, :orders / 100)) x;

INSERT INTO order_mgmt.orders (shop_id, order_id, order_no, customer_id, email, email_key, logistics,
	payment_method, status, payment_status, delivery_status, currency, subtotal, total, paid_amount,
	refunded_amount, created_at, updated_at, paid_at, shipped_at, completed_at, cancelled_at,
	cancel_source, cancel_reason, consulted_support, payment_due_at)
SELECT g.shop_id, g.order_id, g.order_id::text, g.customer_id, g.customer_id || '@example.com',
	   g.customer_id || '@example.com', 'standard', 'credit_card',
	   (CASE WHEN g.fate < 0.30 THEN 'completed' WHEN g.fate < 0.45 THEN 'cancelled' ELSE 'pending' END)::order_mgmt.order_status,
	   (CASE WHEN g.fate < 0.30 THEN 'paid' WHEN g.fate < 0.42 THEN 'unpaid' WHEN g.fate < 0.45 THEN 'refunding'
			 WHEN g.fate < 0.60 THEN 'unpaid' WHEN g.fate < 0.65 THEN 'failed' WHEN g.fate < 0.70 THEN 'partially_refunded'
			 ELSE 'paid' END)::order_mgmt.payment_status,
	   (CASE WHEN g.fate < 0.30 THEN 'collected' WHEN g.fate < 0.65 THEN 'unfulfilled' WHEN g.fate < 0.85 THEN 'shipped'
			 ELSE 'unfulfilled' END)::order_mgmt.delivery_status,
	   'TWD', p.amount, p.amount,
	   CASE WHEN g.fate < 0.30 OR (g.fate >= 0.42 AND g.fate < 0.45) OR g.fate >= 0.65 THEN p.amount ELSE 0 END,
	   CASE WHEN g.fate >= 0.65 AND g.fate < 0.70 THEN round(p.amount / 3, 2) ELSE 0 END,
	   g.created_at, g.created_at,
	   CASE WHEN g.fate < 0.30 OR (g.fate >= 0.42 AND g.fate < 0.45) OR g.fate >= 0.65 THEN g.created_at + interval '10 minutes' END,
	   CASE WHEN g.fate < 0.30 OR (g.fate >= 0.65 AND g.fate < 0.85) THEN g.created_at + interval '1 day' END,
	   CASE WHEN g.fate < 0.30 THEN g.created_at + interval '8 days' END,
	   CASE WHEN g.fate >= 0.30 AND g.fate < 0.45 THEN g.created_at + interval '1 hour' END,
	   CASE WHEN g.fate >= 0.30 AND g.fate < 0.45 THEN (ARRAY['customer', 'merchant', 'system'])[1 + floor(g.support * 3)::int]::order_mgmt.cancel_source END,
	   CASE WHEN g.fate >= 0.30 AND g.fate < 0.45 THEN (ARRAY['changed_mind', 'shipping_cost', 'delivery_time', 'payment_timeout', 'out_of_stock'])[1 + floor(g.support * 5)::int]::order_mgmt.cancel_reason END,
	   g.support < 0.2,
	   g.created_at + interval '30 minutes'
FROM gen g CROSS JOIN LATERAL (SELECT (CASE WHEN g.shop_id = 1 THEN 390 ELSE 200 END) * g.qty::numeric AS amount) p;

INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price, ordered_at)
SELECT shop_id, order_id, 1, sku, qty, CASE WHEN shop_id = 1 THEN 390 ELSE 200 END, created_at FROM gen;

-- the recovery report's events: failures and cancellations, some paid afterwards
INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, from_value, to_value)
SELECT shop_id, order_id, created_at + interval '30 minutes', 'system', 'payment_status', 'unpaid', 'failed'
FROM gen WHERE fate >= 0.60 AND fate < 0.65 OR (fate >= 0.70 AND fate < 0.75);
INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, from_value, to_value)
SELECT shop_id, order_id, created_at + interval '1 hour', 'system', 'payment_status', 'failed', 'paid'
FROM gen WHERE fate >= 0.70 AND fate < 0.75;
RESET session_replication_role;
VACUUM (ANALYZE) order_mgmt.orders, order_mgmt.order_line, order_mgmt.order_event;
SELECT shop_id = 1 AS big_shop, count(*) FROM order_mgmt.orders GROUP BY 1 ORDER BY 1;
