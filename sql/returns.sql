-- Returns and exchanges (SPEC §11, seed 001): the seed's four cases, and
-- every refusal (OM012, OM001).
SET order_mgmt.clock = '2026-12-04 09:00+00';
SELECT order_mgmt.create_shop(150, 'Returns shop');
SELECT setval('order_mgmt.order_id_seq', 1500000);
SELECT order_mgmt.upsert_sku(150, 'TEE-M', 500, product_id => 'TEE', attrs => '{"size": "M"}');
SELECT order_mgmt.upsert_sku(150, 'TEE-L', 500, product_id => 'TEE', attrs => '{"size": "L"}');
SELECT order_mgmt.upsert_sku(150, 'CAP', 200);
SELECT order_mgmt.upsert_sku(150, 'SOCKS', 100);
SELECT order_mgmt.set_stock(150, sku, 10) FROM (VALUES ('TEE-M'), ('TEE-L'), ('CAP'), ('SOCKS')) v(sku);

CREATE FUNCTION shipped_order(lines jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint := order_mgmt.checkout(150, lines);
BEGIN
	PERFORM order_mgmt.mark_paid(150, o);
	PERFORM order_mgmt.ship(150, o);
	PERFORM order_mgmt.set_delivery_status(150, o, 'arrived');
	RETURN o;
END
$$;

-- 1. full return: everything comes back, delivery becomes returned, the money goes back
SELECT shipped_order('[{"sku": "TEE-M", "qty": 2}]') AS o1 \gset
SELECT order_mgmt.request_return(150, :o1, '[{"sku": "TEE-M", "qty": 2}]', 'too small') AS r1 \gset
SELECT delivery_status FROM order_mgmt.orders WHERE order_id = :o1;
SELECT kind, state, reason, refund_amount FROM order_mgmt.return_request WHERE return_id = :r1;
SELECT order_mgmt.approve_return(150, :r1);
SELECT order_mgmt.receive_return(150, :r1);
SELECT state, restock FROM order_mgmt.return_request WHERE return_id = :r1;
SELECT delivery_status FROM order_mgmt.orders WHERE order_id = :o1;
SELECT sku, qty, returned_qty FROM order_mgmt.order_line WHERE order_id = :o1;
SELECT on_hand, reserved FROM order_mgmt.stock_level WHERE shop_id = 150 AND sku = 'TEE-M';
SELECT order_mgmt.refund(150, :o1, (SELECT refund_amount FROM order_mgmt.return_request WHERE return_id = :r1), 'rf-1');
SELECT order_mgmt.credit_note(150, :r1);
SELECT credit_note FROM order_mgmt.return_request WHERE return_id = :r1;
SELECT kind, from_value, to_value, detail FROM order_mgmt.order_event
WHERE order_id = :o1 AND kind IN ('return', 'delivery_status') ORDER BY event_id;

-- 2. partial return: one of two shirts; delivery goes back to arrived
SELECT shipped_order('[{"sku": "TEE-M", "qty": 2}, {"sku": "CAP", "qty": 1}]') AS o2 \gset
SELECT order_mgmt.request_return(150, :o2, '[{"sku": "TEE-M", "qty": 1}]') AS r2 \gset
SELECT order_mgmt.approve_return(150, :r2);
SELECT order_mgmt.receive_return(150, :r2, restock => false);
SELECT delivery_status FROM order_mgmt.orders WHERE order_id = :o2;
SELECT order_mgmt.refund(150, :o2, 500, 'rf-2');
SELECT on_hand FROM order_mgmt.stock_level WHERE shop_id = 150 AND sku = 'TEE-M';
-- more than is left to return: OM012
SELECT order_mgmt.request_return(150, :o2, '[{"sku": "TEE-M", "qty": 2}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.request_return(150, :o2, '[{"sku": "SOCKS", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE

-- 3. exchange of the only item: M for L, L held at once, shipped when approved
SELECT shipped_order('[{"sku": "TEE-M", "qty": 1}]') AS o3 \gset
SELECT order_mgmt.request_exchange(150, :o3, 'TEE-M', 'TEE-L') AS r3 \gset
SELECT sku, on_hand, reserved FROM order_mgmt.stock_level WHERE shop_id = 150 AND sku IN ('TEE-M', 'TEE-L') ORDER BY sku;
SELECT delivery_status FROM order_mgmt.orders WHERE order_id = :o3;
SELECT order_mgmt.ship_exchange(150, :r3);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.approve_return(150, :r3);
SELECT order_mgmt.receive_return(150, :r3);
SELECT state FROM order_mgmt.return_request WHERE return_id = :r3;
SELECT order_mgmt.ship_exchange(150, :r3, 'black-cat', 'BC-EX-1') > 0 AS shipped;
SELECT state FROM order_mgmt.return_request WHERE return_id = :r3;
SELECT sku, on_hand, reserved FROM order_mgmt.stock_level WHERE shop_id = 150 AND sku IN ('TEE-M', 'TEE-L') ORDER BY sku;
SELECT delivery_status, payment_status FROM order_mgmt.orders WHERE order_id = :o3;
SELECT carrier, tracking_no, status, return_id = :r3 AS for_exchange FROM order_mgmt.shipment
WHERE order_id = :o3 ORDER BY shipment_id;

-- 4. exchange of one item among others: the cap for socks, the shirt stays
SELECT shipped_order('[{"sku": "TEE-L", "qty": 1}, {"sku": "CAP", "qty": 1}]') AS o4 \gset
SELECT order_mgmt.request_exchange(150, :o4, 'CAP', 'SOCKS') AS r4 \gset
SELECT order_mgmt.approve_return(150, :r4);
SELECT order_mgmt.ship_exchange(150, :r4) > 0 AS shipped;
SELECT delivery_status FROM order_mgmt.orders WHERE order_id = :o4;
SELECT sku, on_hand, reserved FROM order_mgmt.stock_level WHERE shop_id = 150 AND sku IN ('CAP', 'SOCKS') ORDER BY sku;

-- a rejected or cancelled exchange gives its hold back
SELECT order_mgmt.request_exchange(150, :o4, 'TEE-L', 'TEE-M') AS r5 \gset
SELECT reserved FROM order_mgmt.stock_level WHERE shop_id = 150 AND sku = 'TEE-M';
SELECT order_mgmt.reject_return(150, :r5, 'worn');
SELECT state, note FROM order_mgmt.return_request WHERE return_id = :r5;
SELECT reserved FROM order_mgmt.stock_level WHERE shop_id = 150 AND sku = 'TEE-M';
SELECT order_mgmt.request_exchange(150, :o4, 'TEE-L', 'TEE-M') AS r6 \gset
SELECT order_mgmt.approve_return(150, :r6);
SELECT order_mgmt.cancel_return(150, :r6);
SELECT reserved FROM order_mgmt.stock_level WHERE shop_id = 150 AND sku = 'TEE-M';
SELECT delivery_status FROM order_mgmt.orders WHERE order_id = :o4;

-- refusals: states (OM012), no stock for the replacement (OM001), unknown SKUs, unshipped or cancelled orders
SELECT order_mgmt.approve_return(150, :r5);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.receive_return(150, :r5);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.cancel_return(150, :r1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.ship_exchange(150, :r2);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_stock(150, 'SOCKS', 0);
SELECT order_mgmt.request_exchange(150, :o4, 'TEE-L', 'SOCKS', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.request_exchange(150, :o4, 'TEE-L', 'HAT');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.request_exchange(150, :o4, 'TEE-L', 'CAP', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(150, '[{"sku": "CAP", "qty": 1}]') AS o7 \gset
SELECT order_mgmt.request_return(150, :o7, '[{"sku": "CAP", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.cancel(150, :o7);
SELECT order_mgmt.request_return(150, :o7, '[{"sku": "CAP", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.approve_return(150, 424242);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.request_return(150, :o4, '[]');
\echo :LAST_ERROR_SQLSTATE

DROP FUNCTION shipped_order(jsonb);
RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify();
