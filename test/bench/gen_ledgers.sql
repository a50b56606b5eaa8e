-- What gen_orders.sql leaves out, so that verify() finds its data
-- consistent: a succeeded payment row for the money each order received
-- (and one for the money refunded), the status events that take each order
-- from the first states to where it is, and the held reservations (with
-- stock.reserved and enough on_hand) of the orders that hold stock.  Like
-- gen_orders.sql it writes the tables directly with the triggers off
-- (session_replication_role = replica, superuser only).  Run it once,
-- right after gen_orders.sql, in the same database:
--   psql -v orders=1000000 -f test/bench/gen_orders.sql
--   psql -f test/bench/gen_ledgers.sql
\set ON_ERROR_STOP 1
\o /dev/null
SET session_replication_role = replica;

-- the money: one charge for what was paid, one refund for what went back
INSERT INTO order_mgmt.payment (shop_id, order_id, kind, method, amount, status, provider_ref, created_at)
SELECT shop_id, order_id, 'charge', payment_method, paid_amount, 'succeeded', 'gen-c-' || order_id, paid_at
FROM order_mgmt.orders WHERE paid_amount > 0;
INSERT INTO order_mgmt.payment (shop_id, order_id, kind, amount, status, provider_ref, created_at)
SELECT shop_id, order_id, 'refund', refunded_amount, 'succeeded', 'gen-r-' || order_id, paid_at + interval '1 day'
FROM order_mgmt.orders WHERE refunded_amount > 0;

-- the moves, in the order they were made (event ids follow the inserts);
-- orders whose payment events gen_orders.sql wrote already keep theirs
CREATE TEMP TABLE gen_move AS
SELECT o.shop_id, o.order_id, o.created_at, m.step, m.kind::order_mgmt.event_kind AS kind,
	   m.from_value, m.to_value
FROM order_mgmt.orders o
CROSS JOIN LATERAL (VALUES
	(1, 'payment_status', 'unpaid', 'paid',
	 o.payment_status IN ('paid', 'refunding', 'partially_refunded')),
	(2, 'payment_status', 'paid', o.payment_status::text,
	 o.payment_status IN ('refunding', 'partially_refunded')),
	(3, 'delivery_status', 'unfulfilled', o.delivery_status::text, o.delivery_status <> 'unfulfilled'),
	(4, 'order_status', 'pending', o.status::text, o.status <> 'pending')
) m(step, kind, from_value, to_value, made)
WHERE m.made
  AND NOT (m.kind = 'payment_status'
		   AND EXISTS (SELECT FROM order_mgmt.order_event e
					   WHERE e.shop_id = o.shop_id AND e.order_id = o.order_id AND e.kind = 'payment_status'));
INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, from_value, to_value)
SELECT shop_id, order_id, created_at + step * interval '1 hour', 'gen', kind, from_value, to_value
FROM gen_move ORDER BY step, shop_id, order_id;
DROP TABLE gen_move;

-- the stock held by the orders that hold it (not cancelled, not shipped)
INSERT INTO order_mgmt.reservation (shop_id, order_id, sku, bucket, qty, created_at)
SELECT l.shop_id, l.order_id, l.sku, 0, l.qty, l.ordered_at
FROM order_mgmt.orders o
JOIN order_mgmt.order_line l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
WHERE o.status <> 'cancelled' AND o.delivery_status = 'unfulfilled';
UPDATE order_mgmt.stock s SET reserved = h.qty, on_hand = h.qty + 1000
FROM (SELECT shop_id, sku, sum(qty) AS qty FROM order_mgmt.reservation
	  WHERE state = 'held' GROUP BY shop_id, sku) h
WHERE s.shop_id = h.shop_id AND s.sku = h.sku AND s.bucket = 0;

RESET session_replication_role;
VACUUM (ANALYZE) order_mgmt.payment, order_mgmt.order_event, order_mgmt.reservation, order_mgmt.stock;
\o
SELECT count(*) AS events FROM order_mgmt.order_event;
