-- After checkout (SPEC §9, §10): shipping, digital goods, the post-purchase
-- hold, completing, archiving (by hand and by deadline), notes, feedback.
SET order_mgmt.clock = '2026-12-01 09:00+00';
SELECT order_mgmt.create_shop(120, 'Fulfilment shop');
SELECT setval('order_mgmt.order_id_seq', 1200000);
SELECT order_mgmt.upsert_sku(120, 'A', 100);
SELECT order_mgmt.upsert_sku(120, 'B', 40);
SELECT order_mgmt.upsert_sku(120, 'EBOOK', 30, digital => true);
SELECT order_mgmt.set_stock(120, 'A', 10);
SELECT order_mgmt.set_stock(120, 'B', 10);

-- ship: a shipment with carrier and tracking number; held stock leaves the warehouse
SELECT order_mgmt.checkout(120, '[{"sku": "A", "qty": 2}]') AS o \gset
SELECT order_mgmt.payment_succeeded(120, :o, 200, 'p-1');
SELECT order_mgmt.ship(120, :o, 'black-cat', 'BC-123456') AS shipment \gset
SELECT carrier, tracking_no, status FROM order_mgmt.shipment WHERE shipment_id = :shipment;
SELECT delivery_status, shipped_at FROM order_mgmt.orders WHERE order_id = :o;
SELECT on_hand, reserved FROM order_mgmt.stock_level WHERE shop_id = 120 AND sku = 'A';
SELECT order_mgmt.ship(120, :o);
\echo :LAST_ERROR_SQLSTATE
-- the carrier's progress; the shipment follows
SELECT order_mgmt.set_delivery_status(120, :o, 'arrived');
SELECT order_mgmt.set_delivery_status(120, :o, 'collected', tracking_no => 'BC-123456-B');
SELECT status, tracking_no FROM order_mgmt.shipment WHERE shipment_id = :shipment;
SELECT order_mgmt.set_delivery_status(120, :o, 'shipping');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_delivery_status(120, :o, NULL);
\echo :LAST_ERROR_SQLSTATE

-- integrated logistics: shipping first, the carrier reports the rest
SELECT order_mgmt.checkout(120, '[{"sku": "B", "qty": 1}]', logistics => 'integrated') AS oi \gset
SELECT order_mgmt.set_delivery_status(120, :oi, 'shipping_overdue');
SELECT order_mgmt.ship(120, :oi, 'kerry') > 0 AS shipped;
SELECT delivery_status FROM order_mgmt.orders WHERE order_id = :oi;

-- complete: only with the money in (OM005); then reward points and auto-archive
SELECT order_mgmt.update_shop(120, '{"auto_archive_after": "30 days"}');
SELECT order_mgmt.complete(120, :oi);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.complete(120, :o);
SELECT order_mgmt.complete(120, :o);
SELECT status, completed_at FROM order_mgmt.orders WHERE order_id = :o;
SELECT action, due_at FROM order_mgmt.due_action WHERE order_id = :o;

-- archive: finished orders only (OM013); archived orders refuse changes (OM008) but notes
SELECT order_mgmt.archive(120, :oi);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.archive(120, :o);
SELECT order_mgmt.archive(120, :o);
SELECT order_mgmt.refund(120, :o, 10);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_delivery_status(120, :o, 'returning');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.add_note(120, :o, 'admin', 'VIP: gift wrap next time');
SELECT order_mgmt.unarchive(120, :o);
SELECT order_mgmt.unarchive(120, :o);
SELECT order_mgmt.refund(120, :o, 10, 'r-1');
SELECT archived_at, admin_note, payment_status FROM order_mgmt.orders WHERE order_id = :o;
-- the deadline archives a cancelled order 30 days on
SELECT order_mgmt.cancel(120, :oi);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(120, '[{"sku": "B", "qty": 1}]') AS oc \gset
SELECT order_mgmt.cancel(120, :oc, 'delivery_time');
SET order_mgmt.clock = '2026-12-31 09:00+00';
SELECT order_mgmt.run_due(100000) > 0 AS swept;
SELECT archived_at IS NOT NULL AS archived FROM order_mgmt.orders WHERE order_id = :oc;
SELECT kind, actor FROM order_mgmt.order_event WHERE order_id = :oc AND kind IN ('archive', 'deadline') ORDER BY event_id;

-- notes of every kind; a support contact sets consulted_support
SELECT order_mgmt.add_note(120, :oi, 'shipping', 'Leave at the back door');
SELECT order_mgmt.add_note(120, :oi, 'customer', 'Please no plastic');
SELECT order_mgmt.add_note(120, :oi, 'support', 'Called about the delay');
SELECT shipping_note, customer_note, consulted_support FROM order_mgmt.orders WHERE order_id = :oi;
SELECT detail FROM order_mgmt.order_event WHERE order_id = :oi AND kind = 'note' ORDER BY event_id;
SELECT order_mgmt.add_note(120, :oi, 'admin', '  ');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.add_note(120, :oi, 'gossip', 'x');
\echo :LAST_ERROR_SQLSTATE

-- cancellation feedback (seed 003): cancelled orders only
SELECT order_mgmt.record_feedback(120, :oc, 'delivery_time', 'took too long', 2);
SELECT order_mgmt.record_feedback(120, :oc, 'shipping_cost', 'and it cost too much', 1);
-- both kept, the latest current (issue 17 item 8)
SELECT feedback_no, reason, comment, score FROM order_mgmt.cancel_feedback WHERE order_id = :oc ORDER BY feedback_no;
SELECT order_mgmt.record_feedback(120, :o, 'other');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.record_feedback(120, :oc, 'other', score => 6);
\echo :LAST_ERROR_SQLSTATE

-- digital goods fulfil themselves when paid
SELECT order_mgmt.checkout(120, '[{"sku": "EBOOK", "qty": 1}]') AS od \gset
SELECT order_mgmt.payment_succeeded(120, :od, 30, 'p-d');
SELECT payment_status, delivery_status FROM order_mgmt.orders WHERE order_id = :od;
-- a mixed order does not
SELECT order_mgmt.checkout(120, '[{"sku": "EBOOK", "qty": 1}, {"sku": "B", "qty": 1}]') AS om \gset
SELECT order_mgmt.mark_paid(120, :om);
SELECT delivery_status FROM order_mgmt.orders WHERE order_id = :om;

-- the post-purchase hold (seed 004): add lines, delivery waits, a deadline ends it
SELECT order_mgmt.create_promo(120, 'TEN', 'percent', 10);
SELECT order_mgmt.checkout(120, '[{"sku": "A", "qty": 1}]', promo_code => 'TEN', hold => '15 minutes') AS oh \gset
SELECT order_mgmt.add_lines(120, :oh, '[{"sku": "B", "qty": 2}, {"sku": "EBOOK", "qty": 1}]');
SELECT line_no, sku, qty, unit_price FROM order_mgmt.order_line WHERE order_id = :oh ORDER BY line_no;
SELECT subtotal, discount, total FROM order_mgmt.orders WHERE order_id = :oh;
SELECT sku, qty FROM order_mgmt.reservation WHERE order_id = :oh AND state = 'held' ORDER BY sku;
SELECT order_mgmt.ship(120, :oh);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.add_lines(120, :oh, '[{"sku": "A", "qty": 100}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.add_lines(120, :oh, '[]');
\echo :LAST_ERROR_SQLSTATE
SET order_mgmt.clock = '2026-12-31 09:15+00';
SELECT order_mgmt.add_lines(120, :oh, '[{"sku": "B", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.run_due(100000) > 0 AS swept;
SELECT hold_until FROM order_mgmt.orders WHERE order_id = :oh;
SELECT order_mgmt.ship(120, :oh) > 0 AS shipped;
-- outside a hold: OM013
SELECT order_mgmt.add_lines(120, :o, '[{"sku": "B", "qty": 1}]');
\echo :LAST_ERROR_SQLSTATE

RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify();
