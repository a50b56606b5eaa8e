-- verify() check by check (SPEC §18, issue 14).  First, data the API makes
-- in its corner cases is consistent: verify() says nothing.  Then each
-- invariant is broken behind the triggers (session_replication_role =
-- replica, superuser only), exactly that check reports it, and the break is
-- repaired the same way before the next one.
SET order_mgmt.clock = '2026-12-10 10:00+00';
SELECT order_mgmt.create_shop(220, 'Verify checks shop');
SELECT order_mgmt.create_shop(181, 'Verify checks yen shop', 'JPY', 'ja-JP', 'Asia/Tokyo');
SELECT setval('order_mgmt.order_id_seq', 2200000);
SELECT order_mgmt.update_shop(220, '{"reward_rate": 0.1}');
SELECT order_mgmt.upsert_sku(220, sku, price, digital => digital)
FROM (VALUES ('A', 100, false), ('B', 250, false), ('C', 10, false), ('F', 0, false),
			 ('X', 300, false), ('Y', 300, false), ('G', 30, true)) v(sku, price, digital);
SELECT order_mgmt.set_stock(220, sku, 100) FROM (VALUES ('A'), ('B'), ('F'), ('X'), ('Y')) v(sku);
SELECT order_mgmt.upsert_customer(220, 'ann', 'ann@example.com');
SELECT order_mgmt.upsert_customer(220, 'bob', 'bob@example.com');
SELECT order_mgmt.create_promo(220, 'TEN', 'percent', 10, usage_limit => 5, per_customer_limit => 2);
SELECT order_mgmt.upsert_sku(181, 'MOCHI', 99.5);
SELECT order_mgmt.set_stock(181, 'MOCHI', 100);
SELECT order_mgmt.create_promo(181, 'SALE15', 'percent', 15);

-- what verify() reports for the two shops (event, return and reservation
-- ids depend on the tests before this one)
CREATE TEMP VIEW broken AS
SELECT check_name, regexp_replace(detail, '(event|return|reservation) [0-9]+', '\1 N', 'g') AS detail
FROM (SELECT * FROM order_mgmt.verify(220) UNION ALL SELECT * FROM order_mgmt.verify(181)) v
ORDER BY 1, 2;
-- run plant behind the triggers, return what verify() reports then, and
-- run repair behind the triggers
CREATE FUNCTION pg_temp.broken_by(plant text, repair text)
RETURNS TABLE (check_name text, detail text) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('session_replication_role', 'replica', false);
	EXECUTE plant;
	PERFORM set_config('session_replication_role', 'origin', false);
	RETURN QUERY SELECT * FROM broken;
	PERFORM set_config('session_replication_role', 'replica', false);
	EXECUTE repair;
	PERFORM set_config('session_replication_role', 'origin', false);
END
$$;
-- the same for two breaks that come back: a move made as if through the
-- guard (the column set and the move logged), repaired by moving back and
-- dropping the event; and an order's (or a return's) reservations held or
-- released by hand with stock.reserved following them
CREATE FUNCTION pg_temp.logged_move(o bigint, machine text, from_value text, to_value text)
RETURNS TABLE (check_name text, detail text) LANGUAGE sql AS $$
	SELECT * FROM pg_temp.broken_by(
		format($p$UPDATE order_mgmt.orders SET %1$I = %4$L WHERE order_id = %2$s;
				  INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, from_value, to_value)
				  VALUES (220, %2$s, order_mgmt.now(), 'intruder', %5$L, %3$L, %4$L)$p$,
			   CASE machine WHEN 'order_status' THEN 'status' ELSE machine END, o, from_value, to_value, machine),
		format($r$UPDATE order_mgmt.orders SET %1$I = %3$L WHERE order_id = %2$s;
				  DELETE FROM order_mgmt.order_event WHERE order_id = %2$s AND actor = 'intruder'$r$,
			   CASE machine WHEN 'order_status' THEN 'status' ELSE machine END, o, from_value))
$$;
CREATE FUNCTION pg_temp.held_again(reservations text, sku text)
RETURNS TABLE (check_name text, detail text) LANGUAGE sql AS $$
	SELECT * FROM pg_temp.broken_by(
		format($p$UPDATE order_mgmt.reservation SET state = 'held' WHERE shop_id = 220 AND %1$s;
				  UPDATE order_mgmt.stock SET reserved = reserved + 1 WHERE shop_id = 220 AND sku = %2$L$p$,
			   reservations, sku),
		format($r$UPDATE order_mgmt.reservation SET state = 'released' WHERE shop_id = 220 AND %1$s;
				  UPDATE order_mgmt.stock SET reserved = reserved - 1 WHERE shop_id = 220 AND sku = %2$L$r$,
			   reservations, sku))
$$;

SET order_mgmt.clock = '2026-12-10 11:00+00';
-- o1: a promo code, a shipping fee, paid, completed before it ships (it
-- still holds its stock), earns points, then ships
SELECT order_mgmt.checkout(220, '[{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]', customer_id => 'ann',
						   promo_code => 'ten', shipping_fee => 60) AS o1 \gset
SELECT subtotal, discount, shipping_fee, total FROM order_mgmt.orders WHERE order_id = :o1;
SELECT sku, qty, unit_price, discount FROM order_mgmt.order_line WHERE order_id = :o1 ORDER BY line_no;
SELECT order_mgmt.payment_succeeded(220, :o1, 465, 'p-1');
SELECT order_mgmt.complete(220, :o1);
SELECT sku, state, qty FROM order_mgmt.reservation WHERE order_id = :o1 ORDER BY sku;
SELECT * FROM broken;
SELECT order_mgmt.ship(220, :o1) > 0 AS shipped;
SELECT points, kind FROM order_mgmt.reward_ledger WHERE order_id = :o1;
-- o2: paid, cancelled, part of the money back: still refunding
SELECT order_mgmt.checkout(220, '[{"sku": "A", "qty": 1}]', customer_id => 'ann') AS o2 \gset
SELECT order_mgmt.payment_succeeded(220, :o2, 100, 'p-2');
SELECT order_mgmt.cancel(220, :o2, 'changed_mind');
SELECT order_mgmt.refund(220, :o2, 40, 'r-2');
-- o3: a free order marked paid, then cancelled: refunding, with nothing to return
SELECT order_mgmt.checkout(220, '[{"sku": "F", "qty": 1}]') AS o3 \gset
SELECT order_mgmt.mark_paid(220, :o3);
SELECT order_mgmt.cancel(220, :o3);
-- o4: a digital SKU without stock holds nothing, and still holds nothing
-- once the SKU gets a stock row
SELECT order_mgmt.checkout(220, '[{"sku": "G", "qty": 2}]', order_no => 'V-DIGITAL', hold => '1 hour') AS o4 \gset
SELECT order_mgmt.set_stock(220, 'G', 10);
-- o5: paid twice over (the rest is owed back)
SELECT order_mgmt.checkout(220, '[{"sku": "B", "qty": 1}]') AS o5 \gset
SELECT order_mgmt.payment_succeeded(220, :o5, 250, 'p-5a');
SELECT order_mgmt.payment_succeeded(220, :o5, 250, 'p-5b');
-- o6: an exchange holds its replacement for its request
SELECT order_mgmt.checkout(220, '[{"sku": "X", "qty": 1}]') AS o6 \gset
SELECT order_mgmt.mark_paid(220, :o6);
SELECT order_mgmt.ship(220, :o6) > 0 AS shipped;
SELECT order_mgmt.request_exchange(220, :o6, 'X', 'Y') AS r6 \gset
-- o7: unpaid and waiting, holding its stock
SELECT order_mgmt.checkout(220, '[{"sku": "A", "qty": 1}]', customer_id => 'bob', promo_code => 'TEN') AS o7 \gset
-- o8: yen have no minor units: 3 x 99.5 = 298.5 is 299, 15% of 298.5 is 45
SELECT order_mgmt.checkout(181, '[{"sku": "MOCHI", "qty": 3}]', promo_code => 'sale15') AS o8 \gset
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :o8;
SELECT * FROM broken;

-- stock_bounds: on_hand below 0 (past the CHECK constraint, in a
-- transaction that is rolled back)
BEGIN;
ALTER TABLE order_mgmt.stock DROP CONSTRAINT stock_never_oversold;
UPDATE order_mgmt.stock SET on_hand = -1 WHERE shop_id = 220 AND sku = 'C';
SELECT * FROM broken;
ROLLBACK;

-- stock_backorder_flag: a stock row that allows backorder when its SKU does not
SELECT * FROM pg_temp.broken_by(
	$$UPDATE order_mgmt.stock SET backorder = true WHERE shop_id = 220 AND sku = 'C'$$,
	$$UPDATE order_mgmt.stock SET backorder = false WHERE shop_id = 220 AND sku = 'C'$$);

-- reserved_matches_held: a unit reserved that no reservation holds
SELECT * FROM pg_temp.broken_by(
	$$UPDATE order_mgmt.stock SET reserved = reserved + 1 WHERE shop_id = 220 AND sku = 'A'$$,
	$$UPDATE order_mgmt.stock SET reserved = reserved - 1 WHERE shop_id = 220 AND sku = 'A'$$);

-- order_holds: an order holding more than its lines (the stock row agrees) ...
SELECT * FROM pg_temp.broken_by(
	format($$UPDATE order_mgmt.reservation SET qty = qty + 1 WHERE order_id = %s;
			 UPDATE order_mgmt.stock SET reserved = reserved + 1 WHERE shop_id = 220 AND sku = 'A'$$, :o7),
	format($$UPDATE order_mgmt.reservation SET qty = qty - 1 WHERE order_id = %s;
			 UPDATE order_mgmt.stock SET reserved = reserved - 1 WHERE shop_id = 220 AND sku = 'A'$$, :o7));
-- ... a cancelled order still holding what it gave back ...
SELECT * FROM pg_temp.held_again(format('order_id = %s', :o2), 'A');
-- ... and a line's quantity changed behind the triggers: the total and the
-- holds no longer agree with it (issue 14)
SELECT * FROM pg_temp.broken_by(
	format('UPDATE order_mgmt.order_line SET qty = 3 WHERE order_id = %s', :o7),
	format('UPDATE order_mgmt.order_line SET qty = 1 WHERE order_id = %s', :o7));

-- exchange_hold: a replacement still held after its request was cancelled
SELECT order_mgmt.cancel_return(220, :r6);
SELECT * FROM pg_temp.held_again(format('return_id = %s', :r6), 'Y');

-- promo_used: a code used once more than its redemptions
SELECT * FROM pg_temp.broken_by(
	$$UPDATE order_mgmt.promo_code SET used = used + 1 WHERE shop_id = 220 AND code_key = 'ten'$$,
	$$UPDATE order_mgmt.promo_code SET used = used - 1 WHERE shop_id = 220 AND code_key = 'ten'$$);

-- promo_customer_use: a customer's count off by one
SELECT * FROM pg_temp.broken_by(
	$$UPDATE order_mgmt.promo_customer_use SET used = used + 1 WHERE shop_id = 220 AND who = 'customer:ann'$$,
	$$UPDATE order_mgmt.promo_customer_use SET used = used - 1 WHERE shop_id = 220 AND who = 'customer:ann'$$);

-- status_combination: a cancelled order partially refunded (its money
-- rests in refunding), logged as a move ...
SELECT * FROM pg_temp.logged_move(:o2, 'payment_status', 'refunding', 'partially_refunded');
-- ... and a standard order in a delivery state of integrated logistics
SELECT * FROM pg_temp.logged_move(:o7, 'delivery_status', 'unfulfilled', 'not_executed');

-- order_stamps: a cancelled order that lost its cancel_source, a paid one
-- its paid_at, one not shipped with a shipped_at, one not completed with a
-- completed_at
SELECT * FROM pg_temp.broken_by(
	format($$UPDATE order_mgmt.orders SET cancel_source = NULL WHERE order_id = %s;
			 UPDATE order_mgmt.orders SET paid_at = NULL WHERE order_id = %s;
			 UPDATE order_mgmt.orders SET shipped_at = order_mgmt.now() WHERE order_id = %s;
			 UPDATE order_mgmt.orders SET completed_at = order_mgmt.now() WHERE order_id = %s$$,
		   :o2, :o5, :o7, :o6),
	format($$UPDATE order_mgmt.orders SET cancel_source = 'merchant' WHERE order_id = %s;
			 UPDATE order_mgmt.orders SET paid_at = order_mgmt.now() WHERE order_id = %s;
			 UPDATE order_mgmt.orders SET shipped_at = NULL WHERE order_id = %s;
			 UPDATE order_mgmt.orders SET completed_at = NULL WHERE order_id = %s$$,
		   :o2, :o5, :o7, :o6));

-- payment_status: refunded with nothing refunded (paid 500, refunded 0),
-- logged as a move (issue 14)
SELECT * FROM pg_temp.logged_move(:o5, 'payment_status', 'paid', 'refunded');

-- money: a succeeded charge the order's paid_amount does not count
SELECT * FROM pg_temp.broken_by(
	format($$INSERT INTO order_mgmt.payment (shop_id, order_id, kind, amount, status, provider_ref, created_at)
			 VALUES (220, %s, 'charge', 5, 'succeeded', 'ghost', order_mgmt.now())$$, :o5),
	$$DELETE FROM order_mgmt.payment WHERE shop_id = 220 AND provider_ref = 'ghost'$$);

-- order_total: a line's price changed after checkout ...
SELECT * FROM pg_temp.broken_by(
	format($$UPDATE order_mgmt.order_line SET unit_price = 101 WHERE order_id = %s AND sku = 'A'$$, :o1),
	format($$UPDATE order_mgmt.order_line SET unit_price = 100 WHERE order_id = %s AND sku = 'A'$$, :o1));
-- ... and a yen discount not rounded to whole yen, the total following it
SELECT * FROM pg_temp.broken_by(
	format('UPDATE order_mgmt.orders SET discount = 44.775, total = 254.225 WHERE order_id = %s', :o8),
	format('UPDATE order_mgmt.orders SET discount = 45, total = 254 WHERE order_id = %s', :o8));

-- returns: a unit returned from an order that has not shipped
SELECT * FROM pg_temp.broken_by(
	format('UPDATE order_mgmt.order_line SET returned_qty = 1 WHERE order_id = %s', :o7),
	format('UPDATE order_mgmt.order_line SET returned_qty = 0 WHERE order_id = %s', :o7));

-- line_time: a line stamped with another time than its order's creation
SELECT * FROM pg_temp.broken_by(
	format($$UPDATE order_mgmt.order_line SET ordered_at = ordered_at - interval '1 day' WHERE order_id = %s$$, :o7),
	format($$UPDATE order_mgmt.order_line SET ordered_at = ordered_at + interval '1 day' WHERE order_id = %s$$, :o7));

-- rewards: the points credited to another customer than the order's
SELECT * FROM pg_temp.broken_by(
	format($$UPDATE order_mgmt.reward_ledger SET customer_id = 'bob' WHERE order_id = %s$$, :o1),
	format($$UPDATE order_mgmt.reward_ledger SET customer_id = 'ann' WHERE order_id = %s$$, :o1));

-- reward_points: more points than floor((paid - refunded) * rate) ...
SELECT * FROM pg_temp.broken_by(
	format('UPDATE order_mgmt.reward_ledger SET points = points + 10 WHERE order_id = %s', :o1),
	format('UPDATE order_mgmt.reward_ledger SET points = points - 10 WHERE order_id = %s', :o1));
-- ... but a refund through the API takes back its share (46 -> 36)
SELECT order_mgmt.refund(220, :o1, 100, 'r-1');
SELECT points, kind FROM order_mgmt.reward_ledger WHERE order_id = :o1 ORDER BY entry_id;
SELECT * FROM broken;

-- event_log: a status changed without its event ...
SELECT * FROM pg_temp.broken_by(
	format($$UPDATE order_mgmt.orders SET status = 'confirmed' WHERE order_id = %s$$, :o7),
	format($$UPDATE order_mgmt.orders SET status = 'pending' WHERE order_id = %s$$, :o7));
-- ... and moves that do not chain, though the last one ends where the order is
SELECT * FROM pg_temp.broken_by(
	format($$INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, from_value, to_value)
			 VALUES (220, %1$s, order_mgmt.now(), 'intruder', 'payment_status', 'unpaid', 'failed'),
					(220, %1$s, order_mgmt.now(), 'intruder', 'payment_status', 'pending', 'unpaid')$$, :o7),
	format($$DELETE FROM order_mgmt.order_event WHERE order_id = %s AND actor = 'intruder'$$, :o7));

-- all repaired
SELECT * FROM broken;
SELECT count(*) FROM order_mgmt.verify();
DROP VIEW broken;
RESET order_mgmt.clock;
