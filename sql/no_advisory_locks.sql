-- Issue 15: no lock order_mgmt takes may be takeable by a role without
-- grants on order_mgmt, so none is an advisory lock.  A checkout with the
-- admission queue on (4 buckets), then a cancel, in one open transaction:
-- the backend holds no advisory lock.  (The queue's own lock, a userlock,
-- is taken only when every bucket is held by others; that needs a second
-- session: test/specs/no_advisory_locks.spec shows it in pg_locks.)
SELECT order_mgmt.create_shop(230, 'Lock shop');
SELECT order_mgmt.update_shop(230, '{"admission_queue": true, "stock_buckets": 4}');
SELECT order_mgmt.upsert_sku(230, 'A', 100);
SELECT order_mgmt.set_stock(230, 'A', 40);

BEGIN;
SELECT order_mgmt.checkout(230, '[{"sku": "A", "qty": 1}]', order_no => 'L1') > 0 AS bought;
SELECT count(*) AS advisory FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
SELECT order_mgmt.cancel(230, (SELECT order_id FROM order_mgmt.orders WHERE shop_id = 230 AND order_no = 'L1'));
SELECT count(*) AS advisory FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
-- (a transaction's own events come to readers after its commit)
SELECT count(*) AS own_events FROM order_mgmt.events_since(230, 0, 100);
SELECT count(*) AS advisory FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
COMMIT;
SELECT count(*) > 0 AS events FROM order_mgmt.events_since(230, 0, 100);

SELECT * FROM order_mgmt.verify(230);
