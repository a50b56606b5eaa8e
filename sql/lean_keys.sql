-- Issue 21, lean writes: the foreign keys a checkout and a sweep checked per
-- row are gone (every key to orders, order_line's to sku, orders' to shop,
-- the promo ledgers' to promo_code).  What they also guarded is kept:
-- keep_referenced refuses to delete, re-key or truncate a SKU, shop or code
-- that rows refer to (23503, as the keys did), orders are never deleted,
-- and verify()'s orphan_* checks find rows made behind the triggers.
SET order_mgmt.clock = '2026-12-12 10:00+00';
SELECT setval('order_mgmt.order_id_seq', 2800000);
SELECT order_mgmt.create_shop(2800, 'Lean keys shop');
SELECT order_mgmt.upsert_sku(2800, sku, price, digital => digital)
FROM (VALUES ('A', 100, false), ('B', 50, false), ('D', 5, true), ('E', 1, true)) v(sku, price, digital);
SELECT order_mgmt.set_stock(2800, sku, 100) FROM (VALUES ('A'), ('B')) v(sku);
SELECT order_mgmt.upsert_customer(2800, 'ann', 'ann@example.com');
SELECT order_mgmt.grant_store_credit(2800, 'ann', 50, 'welcome');
SELECT order_mgmt.create_promo(2800, 'TEN', 'percent', 10, usage_limit => 5, per_customer_limit => 2);
SELECT order_mgmt.create_promo(2800, 'FIVE', 'amount', 5);
SELECT order_mgmt.create_promo(2800, 'UNUSED', 'amount', 1);

-- no foreign key refers to orders any more; those left are listed
SELECT count(*) AS keys_to_orders FROM pg_constraint
WHERE contype = 'f' AND confrelid = 'order_mgmt.orders'::regclass;
SELECT conrelid::regclass AS child, confrelid::regclass AS parent
FROM pg_constraint
WHERE contype = 'f' AND connamespace = 'order_mgmt'::regnamespace
ORDER BY 1::text, 2::text, conname;

-- the paths whose keys were dropped still write what they wrote
SELECT order_mgmt.checkout(2800, '[{"sku": "A", "qty": 1}]', hold => '1 hour') AS guest \gset
SELECT order_mgmt.checkout(2800, '[{"sku": "A", "qty": 1}, {"sku": "D", "qty": 2}]', 'ann', promo_code => 'TEN',
						   store_credit => 20,
						   shipping_address => '{"line1": "1 Main St", "city": "Taipei", "country": "TW"}') AS ann \gset
SELECT order_mgmt.checkout(2800, '[{"sku": "B", "qty": 3}]', email => 'guest@example.com', promo_code => 'five') AS five \gset
SELECT order_mgmt.cancel(2800, :five, 'changed_mind');
SELECT order_mgmt.record_feedback(2800, :five, 'changed_mind', 'later', 4);
SELECT order_mgmt.payment_succeeded(2800, :guest, 100, 'lean-1');
SELECT order_id - 2800000 AS order_n, status, payment_status, discount, credit_applied, total
FROM order_mgmt.orders WHERE shop_id = 2800 ORDER BY order_id;
SELECT 'order_line' AS t, count(*) FROM order_mgmt.order_line WHERE shop_id = 2800
UNION ALL SELECT 'reservation', count(*) FROM order_mgmt.reservation WHERE shop_id = 2800
UNION ALL SELECT 'promo_redemption', count(*) FROM order_mgmt.promo_redemption WHERE shop_id = 2800
UNION ALL SELECT 'promo_customer_use', count(*) FROM order_mgmt.promo_customer_use WHERE shop_id = 2800
UNION ALL SELECT 'order_event', count(*) FROM order_mgmt.order_event WHERE shop_id = 2800
UNION ALL SELECT 'due_action', count(*) FROM order_mgmt.due_action WHERE shop_id = 2800
UNION ALL SELECT 'payment', count(*) FROM order_mgmt.payment WHERE shop_id = 2800
UNION ALL SELECT 'store_credit_ledger', count(*) FROM order_mgmt.store_credit_ledger WHERE shop_id = 2800
UNION ALL SELECT 'cancel_feedback', count(*) FROM order_mgmt.cancel_feedback WHERE shop_id = 2800
UNION ALL SELECT 'order_address', count(*) FROM order_mgmt.order_address WHERE shop_id = 2800;

-- a parent that rows refer to stays (23503); nothing changed after a refusal
DELETE FROM order_mgmt.sku WHERE shop_id = 2800 AND sku = 'D';
UPDATE order_mgmt.sku SET sku = 'D2' WHERE shop_id = 2800 AND sku = 'D';
DELETE FROM order_mgmt.shop WHERE shop_id = 2800;
UPDATE order_mgmt.shop SET shop_id = 2801 WHERE shop_id = 2800;
DELETE FROM order_mgmt.promo_code WHERE shop_id = 2800 AND code_key = 'ten';
DELETE FROM order_mgmt.promo_code WHERE shop_id = 2800 AND code_key = 'five';
UPDATE order_mgmt.promo_code SET code_key = 'five2' WHERE shop_id = 2800 AND code_key = 'five';
-- a customer whose orders refer to it (orders' key to customer is gone too)
DELETE FROM order_mgmt.customer WHERE shop_id = 2800 AND customer_id = 'ann';
UPDATE order_mgmt.customer SET customer_id = 'ann2' WHERE shop_id = 2800 AND customer_id = 'ann';
SELECT count(*) AS ann FROM order_mgmt.customer WHERE shop_id = 2800 AND customer_id = 'ann';
-- a code with only a per-customer counter left (its redemption gone behind
-- the triggers) is kept too
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM order_mgmt.promo_redemption WHERE shop_id = 2800 AND code_key = 'ten';
SET LOCAL session_replication_role = origin;
DELETE FROM order_mgmt.promo_code WHERE shop_id = 2800 AND code_key = 'ten';
ROLLBACK;
-- TRUNCATE too (in a transaction: the test database is shared)
BEGIN;
TRUNCATE order_mgmt.promo_code;
ROLLBACK;
BEGIN;
TRUNCATE order_mgmt.sku, order_mgmt.stock, order_mgmt.stock_log, order_mgmt.return_line;
ROLLBACK;
SELECT (SELECT count(*) FROM order_mgmt.sku WHERE shop_id = 2800) AS skus,
	   (SELECT count(*) FROM order_mgmt.promo_code WHERE shop_id = 2800) AS codes,
	   (SELECT count(*) FROM order_mgmt.shop WHERE shop_id = 2800) AS shops;
-- what nothing refers to may go, and be changed: a SKU never sold, an
-- unused code, a shop without orders
UPDATE order_mgmt.sku SET sku = 'E2' WHERE shop_id = 2800 AND sku = 'E';
DELETE FROM order_mgmt.sku WHERE shop_id = 2800 AND sku = 'E2';
UPDATE order_mgmt.sku SET price = 101 WHERE shop_id = 2800 AND sku = 'A';
DELETE FROM order_mgmt.promo_code WHERE shop_id = 2800 AND code_key = 'unused';
SELECT order_mgmt.upsert_customer(2800, 'cat', 'cat@example.com');
UPDATE order_mgmt.customer SET customer_id = 'cat2' WHERE shop_id = 2800 AND customer_id = 'cat';
DELETE FROM order_mgmt.customer WHERE shop_id = 2800 AND customer_id = 'cat2';
SELECT order_mgmt.create_shop(2801, 'Lean keys shop without orders');
DELETE FROM order_mgmt.shop WHERE shop_id = 2801;
SELECT sku FROM order_mgmt.sku WHERE shop_id = 2800 ORDER BY sku;
SELECT code_key FROM order_mgmt.promo_code WHERE shop_id = 2800 ORDER BY code_key;

-- verify() finds orphans, whoever made them: rows inserted behind the
-- triggers for an order, SKU, code or shop that does not exist, and a SKU
-- deleted with the triggers off (session_replication_role = replica turns
-- foreign keys off as well)
SELECT * FROM order_mgmt.verify(2800);
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price, ordered_at)
VALUES (2800, 2899999, 1, 'NOSUCH', 1, 1, order_mgmt.now());
INSERT INTO order_mgmt.reservation (shop_id, reservation_id, order_id, sku, qty, state, created_at)
VALUES (2800, 2899999, 2899999, 'A', 1, 'released', order_mgmt.now());
INSERT INTO order_mgmt.promo_redemption (shop_id, code_key, order_id, state, claimed_at)
VALUES (2800, 'GONE', 2899999, 'released', order_mgmt.now());
INSERT INTO order_mgmt.promo_customer_use (shop_id, code_key, who, used)
VALUES (2800, 'GONE', 'customer:ann', 0);
INSERT INTO order_mgmt.payment (shop_id, payment_id, order_id, kind, amount, status, created_at)
VALUES (2800, 2899999, 2899999, 'charge', 1, 'failed', order_mgmt.now());
INSERT INTO order_mgmt.order_event (shop_id, event_id, order_id, at, actor, kind)
VALUES (2800, 2899999, 2899999, order_mgmt.now(), 'intruder', 'order_status');
INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, created_at)
VALUES (2800, 2899999, 'auto_archive', '2099-01-01', order_mgmt.now());
INSERT INTO order_mgmt.shipment (shop_id, shipment_id, order_id, status, created_at, updated_at)
VALUES (2800, 2899999, 2899999, 'shipped', order_mgmt.now(), order_mgmt.now());
INSERT INTO order_mgmt.reward_ledger (shop_id, entry_id, customer_id, order_id, points, kind, created_at)
VALUES (2800, 2899999, 'ann', 2899999, 1, 'earned', order_mgmt.now());
-- a pair that leaves ann's balance as it was
INSERT INTO order_mgmt.store_credit_ledger (shop_id, entry_id, customer_id, order_id, kind, amount, balance, reason, actor, created_at)
SELECT 2800, 2899998, 'ann', 2899999, 'granted', 1, balance + 1, 'orphan', 'intruder', order_mgmt.now()
FROM order_mgmt.store_credit_balance WHERE shop_id = 2800 AND customer_id = 'ann';
INSERT INTO order_mgmt.store_credit_ledger (shop_id, entry_id, customer_id, kind, amount, balance, reason, actor, created_at)
SELECT 2800, 2899999, 'ann', 'adjusted', -1, balance, 'orphan', 'intruder', order_mgmt.now()
FROM order_mgmt.store_credit_balance WHERE shop_id = 2800 AND customer_id = 'ann';
INSERT INTO order_mgmt.cancel_feedback (shop_id, order_id, reason, recorded_at, feedback_no)
VALUES (2800, 2899999, 'changed_mind', order_mgmt.now(), 1);
INSERT INTO order_mgmt.return_request (shop_id, return_id, order_id, kind, created_at, updated_at)
VALUES (2800, 2899999, 2899999, 'return', order_mgmt.now(), order_mgmt.now());
INSERT INTO order_mgmt.order_address (shop_id, order_id, kind, version, address, set_at, actor)
VALUES (2800, 2899999, 'shipping', 1, '{}', order_mgmt.now(), 'intruder');
INSERT INTO order_mgmt.orders (shop_id, order_id, order_no, customer_id, delivery_status, currency, created_at, updated_at)
VALUES (2899, 2899998, 'orphan', 'ghost', 'unfulfilled', 'USD', order_mgmt.now(), order_mgmt.now());
DELETE FROM order_mgmt.sku WHERE shop_id = 2800 AND sku = 'D';
SET LOCAL session_replication_role = origin;
SELECT check_name, shop_id, detail FROM order_mgmt.verify()
WHERE shop_id IN (2800, 2899) ORDER BY 1, 3;
ROLLBACK;
-- so does verify(shop): one shop's orphans
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO order_mgmt.order_event (shop_id, event_id, order_id, at, actor, kind)
VALUES (2800, 2899999, 2899999, order_mgmt.now(), 'intruder', 'order_status');
SET LOCAL session_replication_role = origin;
SELECT * FROM order_mgmt.verify(2800);
ROLLBACK;

SELECT * FROM order_mgmt.verify(2800);
RESET order_mgmt.clock;
