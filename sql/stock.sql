-- set_stock and adjust_stock (SPEC §4.5): spread over buckets, never below
-- reserved unless backorder (OM001), logged.
SELECT order_mgmt.create_shop(50, 'Stock shop');
SELECT order_mgmt.upsert_sku(50, 'A', 100);
SELECT order_mgmt.set_stock(50, 'A', 10);
SELECT * FROM order_mgmt.stock_level WHERE shop_id = 50;
SELECT order_mgmt.adjust_stock(50, 'A', 5, 'delivery from supplier');
SELECT order_mgmt.adjust_stock(50, 'A', -3, 'damaged');
SELECT order_mgmt.adjust_stock(50, 'A', 0);

-- hold 8 units as a checkout would (a line, the reservation ledger and
-- stock.reserved)
INSERT INTO order_mgmt.orders (shop_id, order_id, currency) VALUES (50, 5000001, 'TWD');
INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price)
VALUES (50, 5000001, 1, 'A', 8, 0);
INSERT INTO order_mgmt.reservation (shop_id, order_id, sku, bucket, qty, created_at)
VALUES (50, 5000001, 'A', 0, 8, now());
UPDATE order_mgmt.stock SET reserved = reserved + 8 WHERE shop_id = 50 AND sku = 'A' AND bucket = 0;
SELECT * FROM order_mgmt.stock_level WHERE shop_id = 50;

-- below reserved: refused, nothing changes
SELECT order_mgmt.set_stock(50, 'A', 7);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.adjust_stock(50, 'A', -5, 'stocktake');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_stock(50, 'A', 8);
SELECT * FROM order_mgmt.stock_level WHERE shop_id = 50;

-- bad input
SELECT order_mgmt.set_stock(50, 'A', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_stock(50, 'A', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_stock(50, 'NOPE', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_stock(999, 'A', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.adjust_stock(50, 'A', 2147483647);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.adjust_stock(50, 'A', NULL);
\echo :LAST_ERROR_SQLSTATE

-- the log: one row per change, with the actor
SELECT sku, delta, on_hand, note, actor FROM order_mgmt.stock_log WHERE shop_id = 50 ORDER BY entry_id;

-- buckets: stock is spread evenly, each bucket keeps what it has reserved
SELECT order_mgmt.upsert_sku(50, 'HOT', 10, stock_buckets => 4);
SELECT order_mgmt.set_stock(50, 'HOT', 10);
SELECT bucket, on_hand, reserved FROM order_mgmt.stock WHERE shop_id = 50 AND sku = 'HOT' ORDER BY bucket;
INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price)
VALUES (50, 5000001, 2, 'HOT', 3, 0);
INSERT INTO order_mgmt.reservation (shop_id, order_id, sku, bucket, qty, created_at)
VALUES (50, 5000001, 'HOT', 1, 3, now());
UPDATE order_mgmt.stock SET reserved = 3 WHERE shop_id = 50 AND sku = 'HOT' AND bucket = 1;
SELECT order_mgmt.adjust_stock(50, 'HOT', 1);
SELECT bucket, on_hand, reserved, on_hand - reserved AS available FROM order_mgmt.stock
WHERE shop_id = 50 AND sku = 'HOT' ORDER BY bucket;
-- fewer buckets: the extra ones drain (keep only what they hold)
SELECT order_mgmt.upsert_sku(50, 'HOT', 10, stock_buckets => 2);
SELECT order_mgmt.set_stock(50, 'HOT', 9);
SELECT bucket, on_hand, reserved FROM order_mgmt.stock WHERE shop_id = 50 AND sku = 'HOT' ORDER BY bucket;
SELECT * FROM order_mgmt.stock_level WHERE shop_id = 50 AND sku = 'HOT';
-- the shop default applies when the SKU has none
SELECT order_mgmt.update_shop(50, '{"stock_buckets": 3}');
SELECT order_mgmt.upsert_sku(50, 'B', 5);
SELECT order_mgmt.set_stock(50, 'B', 7);
SELECT bucket, on_hand FROM order_mgmt.stock WHERE shop_id = 50 AND sku = 'B' ORDER BY bucket;

-- digital goods are not tracked until they get stock
SELECT order_mgmt.upsert_sku(50, 'CODE', 5, digital => true);
SELECT count(*) FROM order_mgmt.stock WHERE shop_id = 50 AND sku = 'CODE';
SELECT order_mgmt.set_stock(50, 'CODE', 100);
SELECT * FROM order_mgmt.stock_level WHERE shop_id = 50 AND sku = 'CODE';

-- backorder: may be sold beyond on_hand, and cannot be switched off then
SELECT order_mgmt.upsert_sku(50, 'PRE', 50, allow_backorder => true);
INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price)
VALUES (50, 5000001, 3, 'PRE', 5, 0);
INSERT INTO order_mgmt.reservation (shop_id, order_id, sku, bucket, qty, created_at)
VALUES (50, 5000001, 'PRE', 0, 5, now());
UPDATE order_mgmt.stock SET reserved = 5 WHERE shop_id = 50 AND sku = 'PRE' AND bucket = 0;
SELECT order_mgmt.set_stock(50, 'PRE', 2);
SELECT * FROM order_mgmt.stock_level WHERE shop_id = 50 AND sku = 'PRE';
SELECT order_mgmt.upsert_sku(50, 'PRE', 50, allow_backorder => false);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_stock(50, 'PRE', 5);
SELECT order_mgmt.upsert_sku(50, 'PRE', 50, allow_backorder => false);
SELECT backorder FROM order_mgmt.stock WHERE shop_id = 50 AND sku = 'PRE';

-- the CHECK constraint is the backstop for any other path
UPDATE order_mgmt.stock SET reserved = on_hand + 1 WHERE shop_id = 50 AND sku = 'A';
\echo :LAST_ERROR_SQLSTATE

-- the checks are kept parsed and planned per backend (check_cache.c), and
-- follow ALTER TABLE at once: a check added applies to the next statement,
-- and once it is gone (here rolled back) it no longer does
BEGIN;
SAVEPOINT probe;
ALTER TABLE order_mgmt.stock ADD CONSTRAINT stock_cache_probe CHECK (on_hand <> 12345);
UPDATE order_mgmt.stock SET on_hand = 12345 WHERE shop_id = 50 AND sku = 'B' AND bucket = 0;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO probe;
UPDATE order_mgmt.stock SET on_hand = 12345 WHERE shop_id = 50 AND sku = 'B' AND bucket = 0
RETURNING on_hand;
ROLLBACK;

SELECT * FROM order_mgmt.verify(50);
