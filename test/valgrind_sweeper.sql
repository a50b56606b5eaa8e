-- test/valgrind.sh, last phase: the background sweeper under valgrind.
-- The server preloads order_mgmt with order_mgmt.database = 'vg_sweeper'
-- and a 200 ms interval; nobody calls the API, the sweeper must fail the
-- unpaid order and auto-cancel it, releasing its stock.
CREATE EXTENSION order_mgmt;
SELECT order_mgmt.create_shop(1, 'Valgrind sweeper shop');
SELECT order_mgmt.update_shop(1, '{"auto_cancel_failed": true, "auto_cancel_delay": "1 second"}');
SELECT order_mgmt.upsert_sku(1, 'A', 100);
SELECT order_mgmt.set_stock(1, 'A', 3);
SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 2}]', order_no => 'SLOW', payment_timeout => '1 second');
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN (SELECT status = 'cancelled' FROM order_mgmt.orders WHERE order_no = 'SLOW');
		PERFORM pg_sleep(0.5);
	END LOOP;
END
$$;
SELECT CASE WHEN o.status = 'cancelled' AND o.payment_status = 'failed'
			 AND s.available = 3 AND d.n = 0 AND v.n = 0
			THEN 'sweeper ok'
			ELSE format('sweeper FAILED: %s/%s, available %s, due %s, verify %s',
						o.status, o.payment_status, s.available, d.n, v.n) END
FROM order_mgmt.orders o, order_mgmt.stock_level s,
	 (SELECT count(*) AS n FROM order_mgmt.due_action) d,
	 (SELECT count(*) AS n FROM order_mgmt.verify()) v
WHERE o.order_no = 'SLOW';
