-- Issue 17 item 9, seeds 001 (SHOPLINE: package tracking numbers, the
-- Tracker app) and 004 (Shopify: tracking and expected delivery dates):
-- an order ships in several packages, each with its lines, carrier,
-- tracking number and expected delivery date; delivery is derived from
-- the packages (partially_shipped while lines wait); every tracking change
-- is an event.  Shops 1710-1719.
SET order_mgmt.clock = '2026-12-01 10:00+00';
SELECT order_mgmt.create_shop(1710, 'Package shop');
SELECT setval('order_mgmt.order_id_seq', 1710000);
SELECT setval('order_mgmt.shipment_id_seq', 1710000);
SELECT order_mgmt.upsert_customer(1710, 'amy', 'amy@example.com');
SELECT order_mgmt.upsert_sku(1710, 'TEA', 450);
SELECT order_mgmt.upsert_sku(1710, 'CUP', 180, stock_buckets => 2);
SELECT order_mgmt.upsert_sku(1710, 'POT', 1200);
SELECT order_mgmt.set_stock(1710, 'TEA', 10);
SELECT order_mgmt.set_stock(1710, 'CUP', 10);
SELECT order_mgmt.set_stock(1710, 'POT', 10);

-- the new value, its moves and its labels
SELECT from_value, to_value, via FROM order_mgmt.transitions
 WHERE 'partially_shipped' IN (from_value, to_value) ORDER BY 1, 2;
SELECT locale, order_mgmt.label('partially_shipped'::order_mgmt.delivery_status, locale)
  FROM unnest(ARRAY['en', 'zh-TW', 'zh-CN', 'th-TH', 'fi-FI']) AS locale;

-- ===========================================================================
-- Seed 001: the tea ships today, the cups when the rest arrives from the
-- kiln.  The first package takes the tea and one cup.
-- ===========================================================================
SELECT order_mgmt.checkout(1710, '[{"sku": "TEA", "qty": 2}, {"sku": "CUP", "qty": 3}]') AS o \gset
SELECT order_mgmt.mark_paid(1710, :o);
SELECT order_mgmt.ship_package(1710, :o, '[{"sku": "TEA", "qty": 2}, {"sku": "CUP", "qty": 1}]',
							   'black-cat', 'BC-1001', '2026-12-03') AS p1 \gset
SELECT delivery_status, shipped_at IS NOT NULL AS shipped_at FROM order_mgmt.orders
 WHERE shop_id = 1710 AND order_id = :o;
SELECT shipment_id = :p1 AS p1, carrier, tracking_no, status, expected_delivery, delivered_at
  FROM order_mgmt.shipment WHERE shop_id = 1710 AND order_id = :o;
SELECT l.sku, p.qty FROM order_mgmt.shipment_line p
  JOIN order_mgmt.order_line l ON l.shop_id = p.shop_id AND l.order_id = p.order_id AND l.line_no = p.line_no
 WHERE p.shop_id = 1710 AND p.shipment_id = :p1 ORDER BY l.sku;
-- the package's units left the warehouse, the two cups still wait, held
SELECT sku, on_hand, reserved FROM order_mgmt.stock_level WHERE shop_id = 1710 ORDER BY sku;
SELECT sku, state, sum(qty) AS qty FROM order_mgmt.reservation WHERE shop_id = 1710 AND order_id = :o
 GROUP BY sku, state ORDER BY sku, state;
-- shipped goods cannot be cancelled, by the merchant or the customer
SELECT order_mgmt.cancel(1710, :o);
\echo :LAST_ERROR_SQLSTATE
SELECT status FROM order_mgmt.orders WHERE shop_id = 1710 AND order_id = :o;

-- what a package may hold: lines of this order, no more than is left
SELECT order_mgmt.ship_package(1710, :o, '[{"sku": "CUP", "qty": 3}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.ship_package(1710, :o, '[{"sku": "TEA", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.ship_package(1710, :o, '[{"sku": "POT", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.ship_package(1710, :o, '[]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.ship_package(1710, :o, '[{"sku": "CUP", "qty": 1}]', expected_delivery => 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.ship_package(1710, 1719999, '[{"sku": "CUP", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
-- a failed call changed nothing
SELECT count(*) AS packages FROM order_mgmt.shipment WHERE shop_id = 1710 AND order_id = :o;

-- ===========================================================================
-- Every tracking change is an event, with the old and new number.
-- ===========================================================================
-- the carrier re-labels the parcel and gives a new date
SELECT order_mgmt.set_tracking(1710, :p1, tracking_no => 'BC-1001-R', expected_delivery => '2026-12-04');
-- the same values again: nothing changes, no event
SELECT order_mgmt.set_tracking(1710, :p1, 'black-cat', 'BC-1001-R');
SELECT tracking_no, expected_delivery FROM order_mgmt.shipment WHERE shop_id = 1710 AND shipment_id = :p1;
SELECT order_mgmt.set_tracking(1710, 1719999, tracking_no => 'X');
\echo :LAST_ERROR_SQLSTATE
-- the package arrives; the order still waits for its cups
SET order_mgmt.clock = '2026-12-03 15:00+00';
SELECT order_mgmt.set_shipment_status(1710, :p1, 'arrived');
SELECT delivery_status FROM order_mgmt.orders WHERE shop_id = 1710 AND order_id = :o;
SELECT status, delivered_at FROM order_mgmt.shipment WHERE shop_id = 1710 AND shipment_id = :p1;
-- report_stuck (seed 004) lists it while the cups wait: paid, only partly shipped
SELECT order_id = :o AS o, delivery_status, since, waiting, reason FROM order_mgmt.report_stuck(1710, '1 day');
-- a package moves by the delivery machine, and never into a return
SELECT order_mgmt.set_shipment_status(1710, :p1, 'shipping');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_shipment_status(1710, :p1, 'returning');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_shipment_status(1710, 1719999, 'arrived');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_shipment_status(1710, :p1, NULL);
\echo :LAST_ERROR_SQLSTATE

-- ===========================================================================
-- The second package: ship() sends what is left.  The order is shipped
-- (its slowest package), the last cups' stock is committed.
-- ===========================================================================
SET order_mgmt.clock = '2026-12-05 09:00+00';
SELECT order_mgmt.ship(1710, :o, 'hct', 'HCT-77') AS p2 \gset
SELECT delivery_status FROM order_mgmt.orders WHERE shop_id = 1710 AND order_id = :o;
SELECT shipment_id = :p2 AS p2, carrier, tracking_no, status, delivered_at IS NOT NULL AS delivered
  FROM order_mgmt.shipment WHERE shop_id = 1710 AND order_id = :o ORDER BY shipment_id;
SELECT sku, on_hand, reserved FROM order_mgmt.stock_level WHERE shop_id = 1710 ORDER BY sku;
SELECT sku, state, sum(qty) AS qty FROM order_mgmt.reservation WHERE shop_id = 1710 AND order_id = :o
 GROUP BY sku, state ORDER BY sku, state;
-- nothing is left to ship
SELECT order_mgmt.ship(1710, :o);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.ship_package(1710, :o, '[{"sku": "CUP", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
-- the order follows its slowest package: arrived when both have
SELECT order_mgmt.set_shipment_status(1710, :p2, 'arrived');
SELECT order_mgmt.set_shipment_status(1710, :p1, 'collected');
SELECT delivery_status FROM order_mgmt.orders WHERE shop_id = 1710 AND order_id = :o;
SELECT order_mgmt.set_shipment_status(1710, :p2, 'collected');
SELECT delivery_status FROM order_mgmt.orders WHERE shop_id = 1710 AND order_id = :o;
-- set_delivery_status with a tracking number changes the newest package's, as an event
SELECT order_mgmt.set_delivery_status(1710, :o, 'collected', tracking_no => 'HCT-77-B');
SELECT shipment_id = :p2 AS p2, tracking_no FROM order_mgmt.shipment WHERE shop_id = 1710 AND order_id = :o ORDER BY shipment_id;
-- the order's story, as an outbox consumer reads it (a Tracker app, a
-- "your parcel is on its way" e-mail)
SELECT kind, from_value, to_value,
	   detail - 'shipment_id' - 'holds' AS detail,
	   (detail ->> 'shipment_id')::bigint = :p1 AS p1
  FROM order_mgmt.order_event WHERE shop_id = 1710 AND order_id = :o
   AND kind IN ('shipment', 'tracking', 'delivery_status', 'commit_stock')
 ORDER BY event_id;

-- ===========================================================================
-- Integrated logistics: packages start shipping; set_delivery_status moves
-- the whole order, the lines left go in one package, the others catch up.
-- ===========================================================================
SELECT order_mgmt.checkout(1710, '[{"sku": "TEA", "qty": 1}, {"sku": "POT", "qty": 1}]',
						   logistics => 'integrated') AS oi \gset
SELECT order_mgmt.ship_package(1710, :oi, '[{"sku": "TEA", "qty": 1}]', '7-11', 'C2C-1') AS pi1 \gset
SELECT delivery_status FROM order_mgmt.orders WHERE shop_id = 1710 AND order_id = :oi;
SELECT order_mgmt.set_delivery_status(1710, :oi, 'shipped', '7-11', 'C2C-2');
SELECT delivery_status FROM order_mgmt.orders WHERE shop_id = 1710 AND order_id = :oi;
SELECT shipment_id = :pi1 AS first, carrier, tracking_no, status,
	   (SELECT string_agg(p.qty || ' x line ' || p.line_no, ', ' ORDER BY p.line_no) FROM order_mgmt.shipment_line p
		 WHERE p.shop_id = s.shop_id AND p.shipment_id = s.shipment_id) AS lines
  FROM order_mgmt.shipment s WHERE shop_id = 1710 AND order_id = :oi ORDER BY shipment_id;
SELECT sku, on_hand, reserved FROM order_mgmt.stock_level WHERE shop_id = 1710 AND sku = 'POT';

-- ===========================================================================
-- A partially shipped order: only what shipped comes back (OM012); a
-- direct UPDATE may ship the rest, but not make an order partially shipped
-- (the package records which lines), and no path cancels it.
-- ===========================================================================
SELECT order_mgmt.checkout(1710, '[{"sku": "CUP", "qty": 2}, {"sku": "POT", "qty": 1}]', customer_id => 'amy') AS op \gset
SELECT order_mgmt.checkout(1710, '[{"sku": "TEA", "qty": 1}]') AS ou \gset
SELECT order_mgmt.mark_paid(1710, :op);
SELECT order_mgmt.ship_package(1710, :op, '[{"sku": "CUP", "qty": 1}]') > 0 AS shipped;
SELECT order_mgmt.request_return(1710, :op, '[{"sku": "POT", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.request_return(1710, :op, '[{"sku": "CUP", "qty": 2}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.request_return(1710, :op, '[{"sku": "CUP", "qty": 1}]') > 0 AS requested;
UPDATE order_mgmt.orders SET delivery_status = 'partially_shipped' WHERE shop_id = 1710 AND order_id = :ou;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'other', cancel_source = 'merchant'
 WHERE shop_id = 1710 AND order_id = :op;
\echo :LAST_ERROR_SQLSTATE
SELECT allowed, reason FROM order_mgmt.can_customer_cancel(1710, :op, 'amy');
UPDATE order_mgmt.orders SET delivery_status = 'shipped' WHERE shop_id = 1710 AND order_id = :op;
SELECT sku, on_hand, reserved FROM order_mgmt.stock_level WHERE shop_id = 1710 ORDER BY sku;
SELECT count(*) AS held FROM order_mgmt.reservation WHERE shop_id = 1710 AND order_id = :op AND state = 'held';

-- ===========================================================================
-- Archived orders refuse package changes (OM008); verify() checks the
-- packages (a package line beyond its order line is reported).
-- ===========================================================================
SELECT order_mgmt.complete(1710, :o);
SELECT order_mgmt.archive(1710, :o);
SELECT order_mgmt.set_tracking(1710, :p1, tracking_no => 'LATE');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_shipment_status(1710, :p1, 'collected');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.verify(1710);
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE order_mgmt.shipment_line SET qty = qty + 5 WHERE shop_id = 1710 AND shipment_id = :p2;
SELECT check_name, detail FROM order_mgmt.verify(1710);
ROLLBACK;
-- issue 19 (the fuzzer): set_delivery_status could move an order to
-- partially_shipped with no package at all; only ship_package() may (OM005)
SELECT order_mgmt.create_shop(1793, 'Fuzz packages');
SELECT order_mgmt.upsert_sku(1793, 'A', 100);
SELECT order_mgmt.set_stock(1793, 'A', 10);
SELECT order_mgmt.checkout(1793, '[{"sku": "A", "qty": 2}]') AS fp \gset
SELECT order_mgmt.mark_paid(1793, :fp);
SELECT order_mgmt.set_delivery_status(1793, :fp, 'partially_shipped');
\echo :LAST_ERROR_SQLSTATE
SELECT delivery_status FROM order_mgmt.orders WHERE shop_id = 1793;
SELECT count(*) AS packages FROM order_mgmt.shipment WHERE shop_id = 1793;
-- a partial package, then the same call again is no move: accepted
SELECT order_mgmt.ship_package(1793, :fp, '[{"sku": "A", "qty": 1}]') > 0 AS package;
SELECT order_mgmt.set_delivery_status(1793, :fp, 'partially_shipped');
SELECT delivery_status FROM order_mgmt.orders WHERE shop_id = 1793;
SELECT * FROM order_mgmt.verify(1793);

RESET order_mgmt.clock;
