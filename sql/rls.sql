-- Row-level security by shop (issue 19, SPEC §17): off by default, on with
-- enable_rls(); the report role sees only its shop, the app role cannot act
-- on another shop, no mapping or another shop's setting means nothing, a
-- superuser bypasses it, disable_rls() restores.  Shops 1771 and 1772.

-- PostgreSQL 13 and 14 have no security_invoker views: there enable_rls()
-- refuses (0A000) and changes nothing (rls_1.out); the rest is for 15+.
SELECT current_setting('server_version_num')::int < 150000 AS before_pg15 \gset
\if :before_pg15
SELECT order_mgmt.enable_rls();
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS tables_with_rls FROM pg_class
WHERE relnamespace = 'order_mgmt'::regnamespace AND relrowsecurity;
\quit
\endif

SELECT order_mgmt.create_shop(1771, 'RLS shop one');
SELECT order_mgmt.create_shop(1772, 'RLS shop two');
SELECT order_mgmt.upsert_sku(s, 'A', 100) FROM generate_series(1771, 1772) s;
SELECT order_mgmt.set_stock(s, 'A', 10) FROM generate_series(1771, 1772) s;
SELECT order_mgmt.upsert_customer(1771, 'c1', 'one@example.com');
SELECT order_mgmt.upsert_customer(1772, 'c2', 'two@example.com');
SELECT order_mgmt.checkout(1771, '[{"sku": "A", "qty": 1}]', customer_id => 'c1') AS o1 \gset
SELECT order_mgmt.checkout(1772, '[{"sku": "A", "qty": 1}]', customer_id => 'c2') AS o2 \gset

CREATE ROLE om_rls_app LOGIN;
GRANT order_mgmt_app TO om_rls_app;
CREATE ROLE om_rls_report LOGIN;
GRANT order_mgmt_report TO om_rls_report;
CREATE ROLE om_rls_admin LOGIN;
GRANT order_mgmt_admin TO om_rls_admin;
CREATE ROLE om_rls_nobody LOGIN;
GRANT order_mgmt_app, order_mgmt_report TO om_rls_nobody;
CREATE ROLE om_rls_shop1;		-- a group: its members use shop 1771
GRANT om_rls_shop1 TO om_rls_app, om_rls_report;

-- set-up: mappings by a superuser; a role that does not exist is refused
SELECT order_mgmt.grant_shop_access(1771, 'om_rls_shop1');
SELECT order_mgmt.grant_shop_access(1771, 'om_rls_shop1') AS again;
SELECT order_mgmt.grant_shop_access(1771, 'om_rls_admin');
SELECT order_mgmt.grant_shop_access(1771, 'om_rls_no_such_role');
\echo :LAST_ERROR_SQLSTATE

-- off by default: the report role reads every shop
SET ROLE om_rls_report;
SELECT shop_id, count(*) FROM order_mgmt.customer WHERE shop_id IN (1771, 1772) GROUP BY 1 ORDER BY 1;
SELECT order_mgmt.rls_shops() AS my_shops;
RESET ROLE;

-- on, by an admin; idempotent
SET ROLE om_rls_admin;
SELECT order_mgmt.enable_rls() > 20 AS enabled;
SELECT order_mgmt.enable_rls() = order_mgmt.enable_rls() AS idempotent;
RESET ROLE;
-- every table with a shop_id has the policy and row-level security on
SELECT count(*) AS shop_tables_without_policy
FROM pg_class c
WHERE c.relnamespace = 'order_mgmt'::regnamespace AND c.relkind = 'r'
  AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'shop_id')
  AND NOT (c.relrowsecurity AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'shop_isolation'));

-- the report role sees only its shop: customers and e-mails, orders,
-- lines, events, stock, the views
SET ROLE om_rls_report;
SELECT order_mgmt.rls_shops() AS my_shops;
SELECT shop_id, customer_id, email FROM order_mgmt.customer WHERE shop_id IN (1771, 1772) ORDER BY 1;
SELECT shop_id, count(*) FROM order_mgmt.orders WHERE shop_id IN (1771, 1772) GROUP BY 1 ORDER BY 1;
SELECT count(*) AS other_shop_orders FROM order_mgmt.orders WHERE shop_id = 1772;
SELECT DISTINCT shop_id FROM order_mgmt.order_line WHERE shop_id IN (1771, 1772);
SELECT DISTINCT shop_id FROM order_mgmt.order_event WHERE shop_id IN (1771, 1772);
SELECT shop_id, available FROM order_mgmt.stock_level WHERE shop_id IN (1771, 1772);
SELECT count(*) AS other_shops FROM order_mgmt.shop WHERE shop_id <> 1771;
-- the reports and verify()
SELECT count(*) AS stuck FROM order_mgmt.report_stuck(1771, '0 seconds');
SELECT count(*) FROM order_mgmt.report_stuck(1772, '0 seconds');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM order_mgmt.report_daily_breakdown(1772, '2020-01-01', '2020-01-02');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM order_mgmt.verify(1772);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS other_shops_problems FROM order_mgmt.verify() WHERE shop_id IS DISTINCT FROM 1771;
-- it cannot write, nor see through a setting
UPDATE order_mgmt.orders SET status = status WHERE shop_id = 1772;
\echo :LAST_ERROR_SQLSTATE
SET order_mgmt.shop_id = 1772;
SELECT count(*) AS orders_as_1772 FROM order_mgmt.orders WHERE shop_id IN (1771, 1772);
SELECT order_mgmt.rls_shops() AS my_shops;
RESET order_mgmt.shop_id;
SET order_mgmt.shop_id = 'x';
RESET ROLE;

-- the app role acts on its shop, and not on another: refused, nothing written
SELECT count(*) AS orders_1772, sum(reserved) AS reserved_1772 FROM order_mgmt.orders o, order_mgmt.stock s
WHERE o.shop_id = 1772 AND s.shop_id = 1772 \gset
SELECT count(*) AS events_1772 FROM order_mgmt.order_event WHERE shop_id = 1772 \gset
SET ROLE om_rls_app;
SELECT order_mgmt.checkout(1771, '[{"sku": "A", "qty": 1}]', customer_id => 'c1') IS NOT NULL AS own_shop;
SELECT order_mgmt.checkout(1772, '[{"sku": "A", "qty": 1}]', customer_id => 'c2');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.cancel(1772, :o2);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.payment_succeeded(1772, :o2, 100, 'rls-1');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.events_since(1772, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_customer(1772, 'c2', 'stolen@example.com');
\echo :LAST_ERROR_SQLSTATE
-- a pool narrows to one shop per transaction; it cannot widen
BEGIN;
SET LOCAL order_mgmt.shop_id = 1772;
SELECT order_mgmt.payment_started(1771, :o1, 'rls-p');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL order_mgmt.shop_id = 1771;
SELECT order_mgmt.payment_started(1771, :o1, 'rls-p');
COMMIT;
RESET ROLE;

-- fail closed: a role mapped to no shop sees nothing and calls nothing
SET ROLE om_rls_nobody;
SELECT order_mgmt.rls_shops() AS my_shops;
SELECT count(*) AS rows_seen FROM order_mgmt.orders;
SELECT count(*) AS customers_seen FROM order_mgmt.customer;
SELECT order_mgmt.checkout(1771, '[{"sku": "A", "qty": 1}]', customer_id => 'c1');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- the admin mapped to 1771: no plain write to another shop, and it cannot
-- move the fence or sweep every shop
SET ROLE om_rls_admin;
WITH u AS (UPDATE order_mgmt.orders SET status = 'cancelled' WHERE shop_id = 1772 RETURNING 1)
SELECT count(*) AS updated FROM u;
SELECT order_mgmt.disable_rls();
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.grant_shop_access(1772, 'om_rls_admin');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.run_due();
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.run_due_shop(1771) >= 0 AS own_shop_swept;
-- its own shop's orders it may still write by hand, through the guard
-- (an admin tool's plain UPDATE of a note, and of a status)
WITH u AS (UPDATE order_mgmt.orders SET admin_note = 'checked by hand'
		   WHERE shop_id = 1771 AND status IN ('pending', 'confirmed') RETURNING 1)
SELECT count(*) > 0 AS own_notes_updated FROM u;
WITH u AS (UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'other'
		   WHERE shop_id = 1771 AND order_id = (SELECT min(order_id) FROM order_mgmt.orders
												WHERE shop_id = 1771 AND status = 'pending'
												  AND delivery_status IN ('unfulfilled', 'not_executed'))
		   RETURNING status)
SELECT status AS own_order FROM u;
-- every API function that takes a shop refuses shop 1772 (42501), before
-- it reads its other arguments
DO $$
DECLARE
	f record;
	n integer := 0;
	bad text[] := '{}';
	state text;
BEGIN
	FOR f IN
		SELECT p.oid::regprocedure AS sig, p.proname,
			   (SELECT string_agg(format('NULL::%s', t::regtype), ', ' ORDER BY i)
				FROM unnest(p.proargtypes[1:]) WITH ORDINALITY AS a(t, i)) AS rest
		FROM pg_proc p
		WHERE p.pronamespace = 'order_mgmt'::regnamespace AND p.pronargs > 0
		  AND p.proargtypes[0] = 'bigint'::regtype AND p.proargnames[1] = 'shop_id'
		  AND has_function_privilege(p.oid, 'EXECUTE')
		ORDER BY p.proname, p.oid
	LOOP
		n := n + 1;
		state := 'no error';
		BEGIN
			IF f.rest IS NULL THEN
				EXECUTE format('SELECT order_mgmt.%I(1772)', f.proname);
			ELSE
				EXECUTE format('SELECT order_mgmt.%I(1772, %s)', f.proname, f.rest);
			END IF;
		EXCEPTION WHEN OTHERS THEN
			state := SQLSTATE;
		END;
		IF state <> '42501' THEN
			bad := bad || format('%s: %s', f.sig, state);
		END IF;
	END LOOP;
	RAISE NOTICE 'functions refused: more than 60: %; not refused: %', n > 60, bad;
END
$$;
RESET ROLE;

-- nothing of shop 1772 changed
SELECT count(*) = :orders_1772 AS same_orders, sum(reserved) = :reserved_1772 AS same_reserved
FROM order_mgmt.orders o, order_mgmt.stock s WHERE o.shop_id = 1772 AND s.shop_id = 1772;
SELECT count(*) = :events_1772 AS same_events FROM order_mgmt.order_event WHERE shop_id = 1772;
SELECT email FROM order_mgmt.customer WHERE shop_id = 1772;
SELECT status FROM order_mgmt.orders WHERE order_id = :o2;

-- a superuser bypasses it (as the sweeper, which runs as one): every shop
SELECT count(DISTINCT shop_id) AS shops_seen FROM order_mgmt.orders WHERE shop_id IN (1771, 1772);
SELECT order_mgmt.run_due_shop(1772) >= 0 AS swept;

-- off again, by a superuser; idempotent; the report role reads every shop
SELECT order_mgmt.disable_rls() = order_mgmt.disable_rls() AS idempotent;
SELECT count(*) AS policies_left FROM pg_policy WHERE polname = 'shop_isolation';
SELECT count(*) AS tables_with_rls FROM pg_class WHERE relnamespace = 'order_mgmt'::regnamespace AND relrowsecurity;
SELECT count(*) AS invoker_views FROM pg_class
WHERE relnamespace = 'order_mgmt'::regnamespace AND relkind = 'v' AND reloptions IS NOT NULL;
SET ROLE om_rls_report;
SELECT shop_id, count(*) FROM order_mgmt.orders WHERE shop_id IN (1771, 1772) GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM order_mgmt.verify(1772);
RESET ROLE;
SET ROLE om_rls_app;
SELECT order_mgmt.cancel(1772, :o2, 'other');
RESET ROLE;

SELECT order_mgmt.revoke_shop_access(1771, 'om_rls_shop1');
SELECT order_mgmt.revoke_shop_access(1771, 'om_rls_shop1') AS again;
SELECT order_mgmt.revoke_shop_access(1771, 'om_rls_admin');
DROP OWNED BY om_rls_app, om_rls_report, om_rls_admin, om_rls_nobody, om_rls_shop1;
DROP ROLE om_rls_app, om_rls_report, om_rls_admin, om_rls_nobody, om_rls_shop1;
SELECT * FROM order_mgmt.verify(1771);
SELECT * FROM order_mgmt.verify(1772);
