-- verify() finds each kind of broken invariant.  Corruption is planted with
-- session_replication_role = replica, which skips the guard triggers (and
-- is superuser-only), then repaired the same way.
SELECT order_mgmt.create_shop(60, 'Verify shop');
SELECT order_mgmt.upsert_sku(60, 'V', 10);
SELECT order_mgmt.set_stock(60, 'V', 5);
INSERT INTO order_mgmt.orders (shop_id, order_id, currency) VALUES (60, 6000001, 'TWD');
UPDATE order_mgmt.orders SET payment_status = 'paid' WHERE order_id = 6000001;
SELECT * FROM order_mgmt.verify(60);

SET session_replication_role = replica;
-- reserved without a held reservation
UPDATE order_mgmt.stock SET reserved = 2 WHERE shop_id = 60 AND sku = 'V';
-- a status change with no event, and an impossible combination
UPDATE order_mgmt.orders SET status = 'cancelled', delivery_status = 'shipped' WHERE order_id = 6000001;
-- a promo code used more often than its ledger says
INSERT INTO order_mgmt.promo_code (shop_id, code_key, code, kind, value, usage_limit, used, created_at)
VALUES (60, 'sale', 'SALE', 'percent', 10, 5, 1, now());
-- a logged move that does not follow from the one before it
INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, from_value, to_value)
VALUES (60, 6000001, now(), 'intruder', 'payment_status', 'failed', 'paid');
-- backorder flag out of step with the SKU
UPDATE order_mgmt.stock SET backorder = true WHERE shop_id = 60 AND sku = 'V';
-- a line returned though never shipped, stamped with another time than its order's
INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price, returned_qty, ordered_at)
VALUES (60, 6000001, 1, 'V', 1, 10, 1, '2000-01-01 00:00+00');
RESET session_replication_role;

SELECT check_name, shop_id,
	   regexp_replace(regexp_replace(detail, 'event [0-9]+', 'event N'), 'order created .*', 'order created T') AS detail
FROM order_mgmt.verify(60) ORDER BY 1, 3;
-- other shops are not affected, and all-shops sees the same rows
SELECT count(*) FROM order_mgmt.verify(40);
SELECT count(*) FROM order_mgmt.verify() WHERE shop_id = 60;

-- repair
SET session_replication_role = replica;
UPDATE order_mgmt.stock SET reserved = 0, backorder = false WHERE shop_id = 60 AND sku = 'V';
UPDATE order_mgmt.orders SET status = 'pending', delivery_status = 'unfulfilled', cancelled_at = NULL
WHERE order_id = 6000001;
UPDATE order_mgmt.promo_code SET used = 0 WHERE shop_id = 60;
DELETE FROM order_mgmt.order_event WHERE shop_id = 60 AND actor = 'intruder';
DELETE FROM order_mgmt.order_line WHERE shop_id = 60;
RESET session_replication_role;
SELECT * FROM order_mgmt.verify();
