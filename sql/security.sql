-- Security (SPEC §17): roles, privileges, and objects planted in public
-- that must not hijack a call.
SELECT order_mgmt.create_shop(170, 'Security shop');
SELECT setval('order_mgmt.order_id_seq', 1700000);
SELECT order_mgmt.upsert_sku(170, 'A', 100);
SELECT order_mgmt.set_stock(170, 'A', 10);

CREATE ROLE om_sec_app LOGIN;
GRANT order_mgmt_app TO om_sec_app;
CREATE ROLE om_sec_report LOGIN;
GRANT order_mgmt_report TO om_sec_report;
GRANT CREATE ON SCHEMA public TO om_sec_app;

-- the app plants look-alikes in public and puts public first
SET ROLE om_sec_app;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT timestamptz '2000-01-01 00:00+00' $$;
CREATE FUNCTION public.normalize_code(text) RETURNS text LANGUAGE sql AS $$ SELECT 'hijacked' $$;
CREATE FUNCTION public.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE sql AS $$ SELECT NULL $$;
CREATE TABLE public.orders (shop_id bigint, order_id bigint);
CREATE TABLE public.stock (shop_id bigint, sku text, bucket int, on_hand int, reserved int);
SET search_path = public, order_mgmt;
SELECT order_mgmt.checkout(170, '[{"sku": "A", "qty": 2}]', email => 'x@example.com') AS o \gset
SELECT order_mgmt.payment_succeeded(170, :o, 200, 'sec-1');
RESET search_path;
RESET ROLE;
-- the calls used order_mgmt's own objects: stamped now, stock held, nothing in public
SELECT created_at > '2020-01-01' AS real_clock, status, payment_status FROM order_mgmt.orders WHERE order_id = :o;
SELECT available FROM order_mgmt.stock_level WHERE shop_id = 170;
SELECT count(*) AS planted_rows FROM public.orders;
SELECT min(at) > '2020-01-01' AS events_real_clock, min(actor) AS actor FROM order_mgmt.order_event WHERE order_id = :o;

-- the app cannot write the tables except through the API, nor read them
SET ROLE om_sec_app;
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM order_mgmt.orders;
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_stock(170, 'A', 1000);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.run_due();
\echo :LAST_ERROR_SQLSTATE
-- the clock is not theirs to move
SET order_mgmt.clock = '2030-01-01 00:00+00';
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- the report role reads and verifies, and writes nothing
SET ROLE om_sec_report;
SELECT count(*) > 0 AS can_read FROM order_mgmt.orders WHERE shop_id = 170;
SELECT count(*) AS problems FROM order_mgmt.verify(170);
SELECT order_mgmt.checkout(170, '[{"sku": "A", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
DELETE FROM order_mgmt.order_event;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

DROP FUNCTION public.now(), public.normalize_code(text), public.unnest(anyarray);
DROP TABLE public.orders, public.stock;
REVOKE CREATE ON SCHEMA public FROM om_sec_app;
DROP OWNED BY om_sec_app, om_sec_report;
DROP ROLE om_sec_app, om_sec_report;
SELECT * FROM order_mgmt.verify();
