-- Payments (SPEC §6): idempotent callbacks, partial and over-payment,
-- failures, manual payment, refunds, and money that is never dropped.
SET order_mgmt.clock = '2026-10-01 08:00+00';
SELECT order_mgmt.create_shop(90, 'Pay shop');
SELECT setval('order_mgmt.order_id_seq', 900000);
SELECT order_mgmt.upsert_sku(90, 'A', 100);
SELECT order_mgmt.set_stock(90, 'A', 20);

-- started -> pending (idempotent), partial payment stays, full payment -> paid
SELECT order_mgmt.checkout(90, '[{"sku": "A", "qty": 2}]') AS o \gset
SELECT order_mgmt.payment_started(90, :o, 'ref-1');
SELECT order_mgmt.payment_started(90, :o, 'ref-1');
SELECT order_mgmt.payment_succeeded(90, :o, 50, 'ref-1', 'credit_card');
SELECT order_mgmt.payment_succeeded(90, :o, 50, 'ref-1', 'credit_card');
SELECT payment_status, paid_amount FROM order_mgmt.orders WHERE order_id = :o;
SELECT order_mgmt.payment_succeeded(90, :o, 160, 'ref-2', 'credit_card');
SELECT payment_status, paid_amount, paid_at, payment_due_at FROM order_mgmt.orders WHERE order_id = :o;
SELECT kind, detail FROM order_mgmt.order_event WHERE order_id = :o AND kind IN ('payment', 'overpaid') ORDER BY event_id;
SELECT kind, status, amount, provider_ref, method FROM order_mgmt.payment WHERE order_id = :o ORDER BY payment_id;
SELECT count(*) AS deadlines FROM order_mgmt.due_action WHERE order_id = :o;

-- errors: OM010 amounts, 22023 a reference of another order, OM007, OM005 after paid
SELECT order_mgmt.payment_succeeded(90, :o, 0, 'ref-3');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.payment_succeeded(90, :o, -5, 'ref-3');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.payment_succeeded(90, :o, NULL, 'ref-3');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(90, '[{"sku": "A", "qty": 1}]') AS o2 \gset
SELECT order_mgmt.payment_succeeded(90, :o2, 100, 'ref-1');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.payment_succeeded(90, 424242, 100, 'ref-x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.payment_started(90, :o, 'ref-4');
\echo :LAST_ERROR_SQLSTATE

-- failure, retry and success: failed -> pending -> paid
SELECT order_mgmt.payment_failed(90, :o2, 'insufficient funds', 'ref-5');
SELECT order_mgmt.payment_failed(90, :o2, 'insufficient funds', 'ref-5');
SELECT order_mgmt.payment_started(90, :o2, 'ref-6');
SELECT order_mgmt.payment_succeeded(90, :o2, 100, 'ref-6');
-- a failure reported after payment is recorded and changes nothing
SELECT order_mgmt.payment_failed(90, :o2, 'late decline', 'ref-7');
SELECT kind, status, provider_ref, failure_reason FROM order_mgmt.payment WHERE order_id = :o2 ORDER BY payment_id;
SELECT from_value, to_value FROM order_mgmt.order_event WHERE order_id = :o2 AND kind = 'payment_status' ORDER BY event_id;
SELECT order_mgmt.payment_failed(90, :o2, NULL);
\echo :LAST_ERROR_SQLSTATE

-- mark_paid: from unpaid, pending or failed only
SELECT order_mgmt.checkout(90, '[{"sku": "A", "qty": 1}]') AS o3 \gset
SELECT order_mgmt.payment_failed(90, :o3, 'timeout at bank');
SELECT order_mgmt.mark_paid(90, :o3, 'bank transfer received');
SELECT payment_status, paid_amount FROM order_mgmt.orders WHERE order_id = :o3;
SELECT order_mgmt.mark_paid(90, :o3);
\echo :LAST_ERROR_SQLSTATE

-- refunds: partial, then the rest; never above paid; idempotent
SELECT order_mgmt.refund(90, :o3, 30, 'rf-1', 'damaged box');
SELECT order_mgmt.refund(90, :o3, 30, 'rf-1', 'damaged box');
SELECT order_mgmt.refund(90, :o3, 80, 'rf-2');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.refund(90, :o3, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.refund(90, :o3, 70, 'rf-3');
SELECT payment_status, paid_amount, refunded_amount FROM order_mgmt.orders WHERE order_id = :o3;
SELECT order_mgmt.refund(90, :o3, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.refund(90, :o3, 1, 'ref-6');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(90, '[{"sku": "A", "qty": 1}]') AS o4 \gset
SELECT order_mgmt.refund(90, :o4, 10);
\echo :LAST_ERROR_SQLSTATE

-- cancelling a paid order: payment becomes refunding, by the API and by UPDATE alike
SELECT order_mgmt.checkout(90, '[{"sku": "A", "qty": 1}]') AS o5 \gset
SELECT order_mgmt.payment_succeeded(90, :o5, 100, 'ref-8');
SELECT order_mgmt.cancel(90, :o5, 'out_of_stock');
SELECT status, payment_status FROM order_mgmt.orders WHERE order_id = :o5;
SELECT order_mgmt.refund(90, :o5, 100, 'rf-4');
SELECT order_mgmt.checkout(90, '[{"sku": "A", "qty": 1}]') AS o6 \gset
SELECT order_mgmt.payment_succeeded(90, :o6, 100, 'ref-9');
UPDATE order_mgmt.orders SET status = 'cancelled' WHERE order_id = :o6;
SELECT status, payment_status FROM order_mgmt.orders WHERE order_id = :o6;
-- a cancelled order's payment cannot start, nor be marked paid
SELECT order_mgmt.payment_started(90, :o6, 'ref-10');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.mark_paid(90, :o6);
\echo :LAST_ERROR_SQLSTATE
-- part of a cancelled order's money back: the rest is still owed, so its
-- payment stays refunding until all of it is back
SELECT order_mgmt.refund(90, :o6, 40, 'rf-5');
SELECT order_mgmt.refund(90, :o6, 60, 'rf-6');

-- late capture that can reactivate: the order comes back, paid
SELECT order_mgmt.checkout(90, '[{"sku": "A", "qty": 1}]') AS o7 \gset
SELECT order_mgmt.cancel(90, :o7, 'payment_timeout', source => 'system');
SELECT order_mgmt.payment_succeeded(90, :o7, 100, 'ref-11');
SELECT status, payment_status FROM order_mgmt.orders WHERE order_id = :o7;
-- money for an order whose money was already returned: refunded -> refunding, owed back
SELECT order_mgmt.payment_succeeded(90, :o5, 100, 'ref-12');
SELECT status, payment_status, paid_amount, refunded_amount FROM order_mgmt.orders WHERE order_id = :o5;
SELECT kind, from_value, to_value, detail FROM order_mgmt.order_event
WHERE order_id = :o5 AND kind IN ('payment_status', 'refund_owed') ORDER BY event_id;

-- issue 19 (the fuzzer): provider_ref is a key of a unique index, so it is
-- checked as an identifier: a 1 MB one is 22023, not the index's 54000
SELECT order_mgmt.create_shop(1790, 'Fuzz payments');
SELECT order_mgmt.upsert_sku(1790, 'A', 100);
SELECT order_mgmt.set_stock(1790, 'A', 10);
SELECT order_mgmt.checkout(1790, '[{"sku": "A", "qty": 1}]') AS f1 \gset
SELECT order_mgmt.payment_succeeded(1790, :f1, 100, repeat('x', 1048576));
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.payment_failed(1790, :f1, 'declined', repeat('y', 201));
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.payment_started(1790, :f1, '');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.payment_succeeded(1790, :f1, 100, repeat('p', 200));
SELECT order_mgmt.refund(1790, :f1, 1, repeat('z', 1048576));
\echo :LAST_ERROR_SQLSTATE
SELECT payment_status, paid_amount, refunded_amount FROM order_mgmt.orders WHERE shop_id = 1790;
SELECT kind, status, length(provider_ref) FROM order_mgmt.payment WHERE shop_id = 1790;

RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify();
