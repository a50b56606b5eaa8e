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

-- Triggers pin their search_path too (issue 19).  A superuser imports an
-- order with public first in the path, where look-alikes of = and unnest
-- raise when called: nothing the extension runs may resolve to them --
-- not order_line_stamp (filling ordered_at), not the guard and effects
-- triggers (a move made by hand).
SELECT order_mgmt.create_shop(1780, 'Import shop');
SELECT order_mgmt.upsert_sku(1780, 'IMP', 10);
SELECT order_mgmt.set_stock(1780, 'IMP', 5);
CREATE FUNCTION public.om_planted_eq(bigint, bigint) RETURNS boolean
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'planted = called'; END $$;
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.om_planted_eq);
CREATE FUNCTION public.unnest(anyarray) RETURNS SETOF anyelement
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'planted unnest called'; END $$;
SET search_path = public, pg_catalog;
-- the look-alikes are live for a statement of the caller's own
SELECT 1::bigint = 1::bigint;
SELECT unnest(ARRAY[1]);
-- the import: an order, a line without ordered_at, its hold
INSERT INTO order_mgmt.orders (shop_id, order_id, currency) VALUES (1780, 17800001, 'TWD');
INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price)
VALUES (1780, 17800001, 1, 'IMP', 2, 0);
INSERT INTO order_mgmt.reservation (shop_id, order_id, sku, qty, created_at)
VALUES (1780, 17800001, 'IMP', 2, now());
UPDATE order_mgmt.stock SET reserved = 2 WHERE shop_id OPERATOR(pg_catalog.=) 1780;
-- a move by hand: the guard judges it, the effects release the hold
UPDATE order_mgmt.orders SET status = 'cancelled'
WHERE shop_id OPERATOR(pg_catalog.=) 1780 AND order_id OPERATOR(pg_catalog.=) 17800001;
RESET search_path;
SELECT l.ordered_at = o.created_at AS line_stamped, o.status
FROM order_mgmt.order_line l JOIN order_mgmt.orders o USING (shop_id, order_id)
WHERE l.shop_id = 1780;
SELECT on_hand, reserved FROM order_mgmt.stock WHERE shop_id = 1780;
SELECT kind, from_value, to_value FROM order_mgmt.order_event WHERE shop_id = 1780 ORDER BY event_id;
DROP OPERATOR public.= (bigint, bigint);
DROP FUNCTION public.om_planted_eq(bigint, bigint), public.unnest(anyarray);

-- Every function of the extension pins search_path except these, which
-- run no SQL (a new function that runs SPI belongs in neither list).
SELECT p.proname, l.lanname, p.prorettype = 'trigger'::regtype AS is_trigger
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'order_mgmt'::regnamespace
  AND NOT coalesce(array_to_string(p.proconfig, ' ') LIKE '%search_path=pg_catalog, order_mgmt, pg_temp%', false)
ORDER BY 1;
SELECT * FROM order_mgmt.verify(1780);

SELECT * FROM order_mgmt.verify();
