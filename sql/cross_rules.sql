-- Cross-status rules of SPEC §3, archived orders (OM008), keys (OM013) and
-- the post-purchase hold (OM011), on the direct UPDATE path.
SELECT order_mgmt.create_shop(20, 'Rules shop');
SET order_mgmt.clock = '2026-05-01 10:00+00';

-- order ids of their own, so that messages do not depend on other tests
CREATE SEQUENCE rules_order_id START 2000001;
CREATE FUNCTION new_order(logistics text DEFAULT 'standard') RETURNS bigint
LANGUAGE sql AS $$
	INSERT INTO order_mgmt.orders (shop_id, order_id, currency, logistics)
	VALUES (20, nextval('rules_order_id'), 'TWD', logistics::order_mgmt.logistics_kind)
	RETURNING order_id
$$;

-- no cancel after shipment: the way back is a return
SELECT new_order() AS o \gset
UPDATE order_mgmt.orders SET delivery_status = 'shipped' WHERE order_id = :o;
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
SELECT status, delivery_status FROM order_mgmt.orders WHERE order_id = :o;

-- cancelling is fine in every pre-shipment state
SELECT new_order('integrated') AS o \gset
UPDATE order_mgmt.orders SET delivery_status = 'shipping_overdue' WHERE order_id = :o;
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE order_id = :o;
SELECT status, delivery_status, cancelled_at, cancel_source, cancel_reason FROM order_mgmt.orders WHERE order_id = :o;

-- a cancelled order does not ship
UPDATE order_mgmt.orders SET delivery_status = 'shipping' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
-- but may move within the pre-shipment set
UPDATE order_mgmt.orders SET delivery_status = 'shipment_cancelled' WHERE order_id = :o;
-- nor may its payment start
UPDATE order_mgmt.orders SET payment_status = 'pending' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
-- cancelling and shipping in one statement is refused too
SELECT new_order() AS o2 \gset
UPDATE order_mgmt.orders SET status = 'cancelled', delivery_status = 'shipped' WHERE order_id = :o2;
\echo :LAST_ERROR_SQLSTATE

-- reactivation clears the cancellation (the event log keeps it)
UPDATE order_mgmt.orders SET status = 'pending' WHERE order_id = :o;
SELECT status, cancelled_at, cancel_source, cancel_reason FROM order_mgmt.orders WHERE order_id = :o;
SELECT kind, from_value, to_value, detail FROM order_mgmt.order_event WHERE order_id = :o ORDER BY event_id;

-- reactivation needs payment unpaid, pending or failed
SELECT new_order() AS o \gset
UPDATE order_mgmt.orders SET payment_status = 'paid' WHERE order_id = :o;
UPDATE order_mgmt.orders SET status = 'cancelled', payment_status = 'refunding',
	cancel_source = 'customer', cancel_reason = 'changed_mind', cancel_note = 'ordered twice'
WHERE order_id = :o;
SELECT detail FROM order_mgmt.order_event WHERE order_id = :o AND kind = 'order_status';
UPDATE order_mgmt.orders SET status = 'confirmed' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE

-- completing needs the money: paid or partially_refunded ...
SELECT new_order() AS o \gset
UPDATE order_mgmt.orders SET status = 'completed' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET payment_status = 'failed' WHERE order_id = :o;
UPDATE order_mgmt.orders SET status = 'completed' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET payment_status = 'paid' WHERE order_id = :o;
-- (a part of the money refunded, put behind the guard: the status must agree with it)
SET session_replication_role = replica;
UPDATE order_mgmt.orders SET paid_amount = 10, refunded_amount = 4 WHERE order_id = :o;
INSERT INTO order_mgmt.payment (shop_id, order_id, kind, amount, status, created_at)
VALUES (20, :o, 'charge', 10, 'succeeded', now()), (20, :o, 'refund', 4, 'succeeded', now());
RESET session_replication_role;
UPDATE order_mgmt.orders SET payment_status = 'partially_refunded' WHERE order_id = :o;
UPDATE order_mgmt.orders SET status = 'completed' WHERE order_id = :o;
SELECT status, payment_status, completed_at, paid_at FROM order_mgmt.orders WHERE order_id = :o;
-- the money agrees with it: verify() finds nothing
SELECT check_name, detail FROM order_mgmt.verify(20);
-- ... or cash on delivery, collected
SELECT new_order('cod') AS o \gset
UPDATE order_mgmt.orders SET delivery_status = 'shipping' WHERE order_id = :o;
UPDATE order_mgmt.orders SET delivery_status = 'arrived' WHERE order_id = :o;
UPDATE order_mgmt.orders SET status = 'completed' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET delivery_status = 'collected' WHERE order_id = :o;
UPDATE order_mgmt.orders SET status = 'completed' WHERE order_id = :o;
SELECT status, payment_status, delivery_status, shipped_at FROM order_mgmt.orders WHERE order_id = :o;
-- a standard order collected but unpaid is not complete
SELECT new_order() AS o \gset
UPDATE order_mgmt.orders SET delivery_status = 'collected' WHERE order_id = :o;
UPDATE order_mgmt.orders SET status = 'completed' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE

-- reaching paid stamps paid_at and clears the payment deadline
SELECT setval('order_mgmt.order_id_seq', 2100000) > 0 AS ids_of_our_own;
SELECT order_mgmt.upsert_sku(20, 'FREE', 0);
SELECT order_mgmt.set_stock(20, 'FREE', 100);
SELECT order_mgmt.checkout(20, '[{"sku": "FREE", "qty": 1}]', order_no => 'R-DUE') AS o \gset
SELECT payment_due_at FROM order_mgmt.orders WHERE order_id = :o;
UPDATE order_mgmt.orders SET payment_status = 'paid' WHERE order_id = :o;
SELECT paid_at, payment_due_at FROM order_mgmt.orders WHERE order_id = :o;

-- paid needs the money: a plain UPDATE cannot mark an order paid that is not
SELECT order_mgmt.upsert_sku(20, 'TEA', 300);
SELECT order_mgmt.set_stock(20, 'TEA', 100);
SELECT order_mgmt.checkout(20, '[{"sku": "TEA", "qty": 1}]', order_no => 'R-MONEY') AS o \gset
UPDATE order_mgmt.orders SET payment_status = 'paid' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
-- money, deadlines and the promo code change only through the API
UPDATE order_mgmt.orders SET paid_amount = 300 WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET total = 0 WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET payment_due_at = payment_due_at + interval '1 day' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET logistics = 'cod' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.mark_paid(20, :o);
SELECT payment_status, paid_amount FROM order_mgmt.orders WHERE order_id = :o;

-- archiving: only finished orders (OM013), then nothing but notes (OM008)
SELECT new_order() AS o \gset
UPDATE order_mgmt.orders SET archived_at = order_mgmt.now() WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE order_id = :o;
UPDATE order_mgmt.orders SET archived_at = order_mgmt.now() WHERE order_id = :o;
UPDATE order_mgmt.orders SET status = 'pending' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET total = 5 WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET archived_at = archived_at + interval '1 day' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET admin_note = 'called the customer', consulted_support = true WHERE order_id = :o;
SELECT status, admin_note, consulted_support, archived_at IS NOT NULL AS archived FROM order_mgmt.orders WHERE order_id = :o;
-- unarchive, then it may move again
UPDATE order_mgmt.orders SET archived_at = NULL WHERE order_id = :o;
UPDATE order_mgmt.orders SET status = 'pending' WHERE order_id = :o;
SELECT kind, from_value, to_value FROM order_mgmt.order_event WHERE order_id = :o ORDER BY event_id;

-- keys never change
UPDATE order_mgmt.orders SET order_id = order_id + 1000000 WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE

-- the post-purchase hold: delivery may not move until hold_until (OM011)
SELECT order_mgmt.checkout(20, '[{"sku": "FREE", "qty": 1}]', hold => '15 minutes', order_no => 'R-HOLD') AS o \gset
UPDATE order_mgmt.orders SET delivery_status = 'shipped' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
-- lifting the hold in the same statement does not help
UPDATE order_mgmt.orders SET hold_until = NULL, delivery_status = 'shipped' WHERE order_id = :o;
\echo :LAST_ERROR_SQLSTATE
-- other machines move during a hold
UPDATE order_mgmt.orders SET payment_status = 'paid' WHERE order_id = :o;
SET order_mgmt.clock = '2026-05-01 10:15+00';
UPDATE order_mgmt.orders SET delivery_status = 'shipped' WHERE order_id = :o;
SELECT payment_status, delivery_status, shipped_at FROM order_mgmt.orders WHERE order_id = :o;

-- an email change recomputes the normalized key
SELECT new_order() AS o \gset
UPDATE order_mgmt.orders SET email = '  Mary@Example.COM ' WHERE order_id = :o;
SELECT email_key FROM order_mgmt.orders WHERE order_id = :o;

RESET order_mgmt.clock;
DROP FUNCTION new_order(text);
DROP SEQUENCE rules_order_id;
SELECT * FROM order_mgmt.verify(20);
