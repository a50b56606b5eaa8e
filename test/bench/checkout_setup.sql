-- Data for the checkout benchmark (test/bench/checkout.sh, issue 6).
--   shop 1: 10,000 SKUs named '1' .. '10000' (one stock row each, a
--           billion units: nothing sells out), the hot SKU 'H' (its
--           buckets are set per run), 1,000 customers, 20 promo codes
--           P1 .. P20 (10% off, limited to a billion uses, so every claim
--           counts on the code row)
--   shops 2 .. 100: 100 SKUs and 100 customers each, no orders
--   schema minimal: the minimal floor's tables (issue 21), shop 1's SKUs
-- Run with psql -v ON_ERROR_STOP=1 in a fresh database.
CREATE EXTENSION order_mgmt;
CREATE SCHEMA bench;

SELECT order_mgmt.create_shop(s, 'Bench shop ' || s) FROM generate_series(1, 100) s;
-- payment deadlines far away: nothing expires while the benchmark runs
UPDATE order_mgmt.shop SET payment_timeout = '7 days';

-- SKUs and stock in bulk (the API's upsert_sku/set_stock do one row per
-- call; this is set-up, not the measured path)
INSERT INTO order_mgmt.sku (shop_id, sku, price, product_id, created_at, updated_at)
SELECT 1, g::text, 100 + g % 900, 'p' || (g / 10), now(), now() FROM generate_series(1, 10000) g
UNION ALL
SELECT s, g::text, 100 + g, 'p' || g, now(), now() FROM generate_series(2, 100) s, generate_series(1, 100) g;
INSERT INTO order_mgmt.stock (shop_id, sku, bucket, on_hand)
SELECT shop_id, sku, 0, 1000000000 FROM order_mgmt.sku;
SELECT order_mgmt.upsert_sku(1, 'H', 500, title => 'The hot SKU');
SELECT order_mgmt.set_stock(1, 'H', 1000000000);

INSERT INTO order_mgmt.customer (shop_id, customer_id, email, email_key, created_at, updated_at)
SELECT 1, g::text, 'c' || g || '@example.com', 'c' || g || '@example.com', now(), now() FROM generate_series(1, 1000) g
UNION ALL
SELECT s, g::text, 'c' || g || '@example.com', 'c' || g || '@example.com', now(), now()
FROM generate_series(2, 100) s, generate_series(1, 100) g;

SELECT order_mgmt.create_promo(1, 'P' || g, 'percent', 10, usage_limit => 1000000000) FROM generate_series(1, 20) g;

\ir plpgsql_checkout.sql

-- the hot SKU's buckets (and admission queue) for the next runs
-- buckets NULL: the shop's defaults, so balance_buckets() spreads it
-- (issue 21), starting from one bucket each time
CREATE FUNCTION bench.set_hot(buckets int, queue boolean) RETURNS void
LANGUAGE sql AS $$
	SELECT order_mgmt.upsert_sku(1, 'H', 500, title => 'The hot SKU', stock_buckets => buckets,
								 admission_queue => queue);
	SELECT order_mgmt.update_shop(1, '{"auto_buckets_max": 1}');
	SELECT order_mgmt.balance_buckets(1);
	SELECT order_mgmt.update_shop(1, '{"auto_buckets_max": 16}');
	SELECT order_mgmt.set_stock(1, 'H', 1000000000);
$$;

-- the minimal floor (issue 21, checkout.sh's variant minimal): the rows a
-- checkout needs, primary keys only (as test/bench/wal.sh's floor); the
-- stock row carries the price, so the floor reads nothing else
CREATE SCHEMA minimal;
CREATE SEQUENCE minimal.ids;
CREATE TABLE minimal.orders (shop_id bigint, order_id bigint, status text, payment_status text,
	total numeric, created_at timestamptz, PRIMARY KEY (shop_id, order_id));
CREATE TABLE minimal.line (shop_id bigint, order_id bigint, line_no int, sku text, qty int,
	unit_price numeric, PRIMARY KEY (shop_id, order_id, line_no));
CREATE TABLE minimal.reservation (shop_id bigint, reservation_id bigint, order_id bigint, sku text,
	qty int, state text, PRIMARY KEY (shop_id, reservation_id));
CREATE TABLE minimal.event (shop_id bigint, event_id bigint, order_id bigint, kind text,
	at timestamptz, detail jsonb, PRIMARY KEY (shop_id, event_id));
CREATE TABLE minimal.stock (shop_id bigint, sku text, on_hand int, reserved int, price numeric,
	PRIMARY KEY (shop_id, sku));
INSERT INTO minimal.stock SELECT shop_id, sku, 1000000000, 0, price FROM order_mgmt.sku WHERE shop_id = 1;

-- the needed floor (needed_floor.sql): the minimal floor with the indexes
-- the SQL contract and the reports need; what is left of order_mgmt's
-- cost above it is its own
\ir needed_floor.sql
CREATE TABLE needed.reservation (LIKE minimal.reservation INCLUDING ALL);
CREATE TABLE needed.stock (LIKE minimal.stock INCLUDING ALL);
INSERT INTO needed.stock SELECT * FROM minimal.stock;

-- the last order id, before a run (the floors' orders take their ids from
-- the same sequence)
CREATE FUNCTION bench.last_order() RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT coalesce(greatest((SELECT max(order_id) FROM order_mgmt.orders WHERE shop_id = 1),
							 (SELECT max(order_id) FROM minimal.orders WHERE shop_id = 1),
							 (SELECT max(order_id) FROM needed.orders WHERE shop_id = 1)), 0)
$$;

-- orders and units sold since an order id, counted in the database
CREATE FUNCTION bench.sold_since(after bigint, OUT orders bigint, OUT units bigint)
LANGUAGE sql STABLE AS $$
	SELECT count(DISTINCT order_id), coalesce(sum(qty), 0)
	FROM (SELECT order_id, qty FROM order_mgmt.order_line WHERE shop_id = 1 AND order_id > after
		  UNION ALL
		  SELECT order_id, qty FROM minimal.line WHERE shop_id = 1 AND order_id > after
		  UNION ALL
		  SELECT order_id, qty FROM needed.line WHERE shop_id = 1 AND order_id > after) l
$$;

-- the commit floor: one small row per transaction
CREATE TABLE bench.commit_floor (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());

VACUUM ANALYZE;
