-- Nothing is lost (SPEC principle 3): orders, lines, payments and events are
-- never deleted (OM009), events never change, and each records who acted.
SELECT order_mgmt.create_shop(30, 'History shop');
SELECT order_mgmt.upsert_sku(30, 'H-1', 10);
SELECT order_mgmt.set_stock(30, 'H-1', 1);
-- an order written by hand: a free line, held as a checkout would hold it
INSERT INTO order_mgmt.orders (shop_id, order_id, currency) VALUES (30, 3000001, 'TWD');
INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price)
VALUES (30, 3000001, 1, 'H-1', 1, 0);
INSERT INTO order_mgmt.reservation (shop_id, order_id, sku, qty, created_at)
VALUES (30, 3000001, 'H-1', 1, now());
UPDATE order_mgmt.stock SET reserved = 1 WHERE shop_id = 30 AND sku = 'H-1';
-- a line written by hand gets its order's creation time
SELECT l.ordered_at = o.created_at AS line_stamped
FROM order_mgmt.order_line l JOIN order_mgmt.orders o USING (shop_id, order_id)
WHERE l.order_id = 3000001;
INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price)
VALUES (30, 3999999, 1, 'H-1', 1, 10);
INSERT INTO order_mgmt.payment (shop_id, order_id, kind, amount, status, created_at)
VALUES (30, 3000001, 'charge', 10, 'failed', now());
UPDATE order_mgmt.orders SET payment_status = 'failed' WHERE order_id = 3000001;

DELETE FROM order_mgmt.orders WHERE order_id = 3000001;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM order_mgmt.order_line WHERE order_id = 3000001;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM order_mgmt.payment WHERE order_id = 3000001;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM order_mgmt.order_event WHERE order_id = 3000001;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE order_mgmt.order_event;
\echo :LAST_ERROR_SQLSTATE
SET client_min_messages = warning;	-- the list of cascaded tables is not the point
TRUNCATE order_mgmt.orders CASCADE;
\echo :LAST_ERROR_SQLSTATE
RESET client_min_messages;
UPDATE order_mgmt.order_event SET to_value = 'paid' WHERE order_id = 3000001;
\echo :LAST_ERROR_SQLSTATE
-- all still there
SELECT (SELECT count(*) FROM order_mgmt.orders WHERE order_id = 3000001) AS orders,
	   (SELECT count(*) FROM order_mgmt.order_line WHERE order_id = 3000001) AS lines,
	   (SELECT count(*) FROM order_mgmt.payment WHERE order_id = 3000001) AS payments,
	   (SELECT count(*) FROM order_mgmt.order_event WHERE order_id = 3000001) AS events;

-- the actor is the role as the caller sees it: the SET ROLE role ...
CREATE ROLE om_history_clerk;
GRANT order_mgmt_admin TO om_history_clerk;
SET ROLE om_history_clerk;
UPDATE order_mgmt.orders SET payment_status = 'paid' WHERE shop_id = 30 AND order_id = 3000001;
-- admins may move orders but not rewrite other columns or the log
UPDATE order_mgmt.orders SET total = total + 1 WHERE shop_id = 30 AND order_id = 3000001;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind) VALUES (30, 3000001, now(), 'x', 'note');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- ... even inside a SECURITY DEFINER function owned by someone else
CREATE FUNCTION confirm_as_definer(bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER AS $$
	UPDATE order_mgmt.orders SET status = 'confirmed' WHERE shop_id = 30 AND order_id = $1
$$;
GRANT EXECUTE ON FUNCTION confirm_as_definer(bigint) TO om_history_clerk;
SET ROLE om_history_clerk;
SELECT confirm_as_definer(3000001);
RESET ROLE;

SELECT kind, from_value, to_value, actor FROM order_mgmt.order_event
WHERE order_id = 3000001 ORDER BY event_id;

DROP FUNCTION confirm_as_definer(bigint);
DROP OWNED BY om_history_clerk;
DROP ROLE om_history_clerk;

-- the guard triggers refuse misuse of their protocol
SELECT order_mgmt.forbid_change();
\echo :LAST_ERROR_SQLSTATE

SELECT * FROM order_mgmt.verify(30);
