-- Issue 17 item 11, seed 001 (SHOPLINE, peak-season order features):
-- "when an order is completed, reward points or store credit (購物金) are
-- sent automatically".  Store credit is a balance per customer, spent at
-- checkout as a tender, given back by a cancellation or a return, never
-- negative.  Shops 1730-1739.
SET order_mgmt.clock = '2026-12-05 10:00+00';
SELECT order_mgmt.create_shop(1730, 'Credit shop');
SELECT setval('order_mgmt.order_id_seq', 1730000);
SELECT order_mgmt.upsert_sku(1730, 'A', 100);
SELECT order_mgmt.upsert_sku(1730, 'B', 50);
SELECT order_mgmt.set_stock(1730, 'A', 100);
SELECT order_mgmt.set_stock(1730, 'B', 100);
SELECT order_mgmt.upsert_customer(1730, 'mary', 'mary@example.com');
SELECT order_mgmt.upsert_customer(1730, 'john', 'john@example.com');
SELECT order_mgmt.run_due(100000) >= 0 AS flushed;

-- ---------------------------------------------------------------------------
-- The merchant grants and adjusts credit, with a reason
-- ---------------------------------------------------------------------------
SELECT order_mgmt.store_credit_balance(1730, 'mary') AS none_yet;
SELECT order_mgmt.grant_store_credit(1730, 'mary', 300, 'welcome gift') AS balance;
SELECT order_mgmt.adjust_store_credit(1730, 'mary', -20, 'correction') AS balance;
SELECT order_mgmt.store_credit_balance(1730, 'mary') AS balance;
-- bad input: 22023, and nothing changes
SELECT order_mgmt.grant_store_credit(1730, 'mary', -5, 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.grant_store_credit(1730, 'mary', 0.001, 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.grant_store_credit(1730, 'mary', 5, ' ');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.grant_store_credit(1730, 'mary', NULL, 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.grant_store_credit(1730, 'nobody', 5, 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.adjust_store_credit(1730, 'mary', 0, 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.grant_store_credit(1739, 'mary', 5, 'x');
\echo :LAST_ERROR_SQLSTATE
-- never negative: OM015
SELECT order_mgmt.adjust_store_credit(1730, 'mary', -281, 'too much');
\echo :LAST_ERROR_SQLSTATE
SELECT customer_id, kind, amount, balance, reason, order_id FROM order_mgmt.store_credit_ledger
 WHERE shop_id = 1730 ORDER BY entry_id;

-- ---------------------------------------------------------------------------
-- Spent at checkout: the money to pay is total - credit
-- ---------------------------------------------------------------------------
SELECT order_mgmt.checkout(1730, '[{"sku": "A", "qty": 2}]', customer_id => 'mary',
                           shipping_fee => 60, store_credit => 100) AS o1 \gset
SELECT total, credit_applied, payment_status, payment_due_at IS NOT NULL AS has_deadline
  FROM order_mgmt.orders WHERE shop_id = 1730 AND order_id = :o1;
SELECT order_mgmt.store_credit_balance(1730, 'mary') AS balance;
SELECT detail->'store_credit' AS spent FROM order_mgmt.order_event
 WHERE shop_id = 1730 AND order_id = :o1 AND kind = 'checkout';
-- a payment of total - credit pays it
SELECT order_mgmt.payment_succeeded(1730, :o1, 160, 'pay-o1');
SELECT paid_amount, payment_status FROM order_mgmt.orders WHERE shop_id = 1730 AND order_id = :o1;
-- payment_started records what is left to pay
SELECT order_mgmt.checkout(1730, '[{"sku": "B", "qty": 1}]', customer_id => 'mary',
                           store_credit => 30) AS o2 \gset
SELECT order_mgmt.payment_started(1730, :o2, 'start-o2');
SELECT amount FROM order_mgmt.payment WHERE shop_id = 1730 AND provider_ref = 'start-o2';

-- credit covering the total pays the order at once, with no deadline
SELECT order_mgmt.checkout(1730, '[{"sku": "B", "qty": 1}]', customer_id => 'mary',
                           store_credit => 50) AS o3 \gset
SELECT total, credit_applied, paid_amount, payment_status, payment_due_at,
       paid_at IS NOT NULL AS stamped
  FROM order_mgmt.orders WHERE shop_id = 1730 AND order_id = :o3;
SELECT order_mgmt.store_credit_balance(1730, 'mary') AS balance;

-- bad input: 22023, OM015, and nothing is written
SELECT count(*) AS orders_before FROM order_mgmt.orders WHERE shop_id = 1730 \gset
SELECT order_mgmt.checkout(1730, '[{"sku": "A", "qty": 1}]', customer_id => 'mary', store_credit => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1730, '[{"sku": "A", "qty": 1}]', customer_id => 'mary', store_credit => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1730, '[{"sku": "A", "qty": 1}]', customer_id => 'mary', store_credit => 0.005);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1730, '[{"sku": "A", "qty": 1}]', customer_id => 'mary', store_credit => 101);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1730, '[{"sku": "A", "qty": 1}]', email => 'g@example.com', store_credit => 10);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1730, '[{"sku": "A", "qty": 1}]', customer_id => 'john', store_credit => 10);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) = :orders_before AS nothing_written FROM order_mgmt.orders WHERE shop_id = 1730;
SELECT order_mgmt.store_credit_balance(1730, 'mary') AS balance;
-- store_credit => 0 is a checkout without credit
SELECT order_mgmt.checkout(1730, '[{"sku": "A", "qty": 1}]', customer_id => 'john', store_credit => 0) IS NOT NULL AS ok;

-- ---------------------------------------------------------------------------
-- Cancel before shipment gives the credit back; reactivation spends it again
-- ---------------------------------------------------------------------------
SELECT order_mgmt.cancel(1730, :o2, 'changed_mind');
SELECT order_mgmt.store_credit_balance(1730, 'mary') AS balance;
SELECT order_mgmt.reactivate(1730, :o2);
SELECT order_mgmt.store_credit_balance(1730, 'mary') AS balance;
-- the order paid with credit only: its payment is refunded, nothing is owed
SELECT order_mgmt.cancel(1730, :o3, 'changed_mind');
SELECT status, payment_status FROM order_mgmt.orders WHERE shop_id = 1730 AND order_id = :o3;
SELECT order_mgmt.store_credit_balance(1730, 'mary') AS balance;
-- the paid order: its money is owed back (refunding), its credit is back now
SELECT order_mgmt.cancel(1730, :o2, 'changed_mind');
SELECT order_mgmt.adjust_store_credit(1730, 'mary', -160, 'spent elsewhere') AS balance;
-- reactivating with too little credit left fails (OM015), the order stays cancelled
SELECT order_mgmt.reactivate(1730, :o2);
\echo :LAST_ERROR_SQLSTATE
SELECT status FROM order_mgmt.orders WHERE shop_id = 1730 AND order_id = :o2;
SELECT kind, amount, balance FROM order_mgmt.store_credit_ledger
 WHERE shop_id = 1730 AND order_id IN (:o2, :o3) ORDER BY entry_id;
SELECT detail FROM order_mgmt.order_event
 WHERE shop_id = 1730 AND order_id = :o2 AND kind = 'store_credit' ORDER BY event_id;

-- ---------------------------------------------------------------------------
-- Returns give back the return's share of the credit; the last unit the rest
-- ---------------------------------------------------------------------------
SELECT order_mgmt.ship(1730, :o1) IS NOT NULL AS shipped;
SELECT order_mgmt.set_delivery_status(1730, :o1, 'arrived');
SELECT order_mgmt.request_return(1730, :o1, '[{"sku": "A", "qty": 1}]') AS r1 \gset
SELECT order_mgmt.approve_return(1730, :r1);
SELECT order_mgmt.receive_return(1730, :r1);
SELECT refund_amount, store_credit, refund_amount - store_credit AS money_to_refund
  FROM order_mgmt.return_request WHERE shop_id = 1730 AND return_id = :r1;
SELECT order_mgmt.refund(1730, :o1, 50);
SELECT order_mgmt.request_return(1730, :o1, '[{"sku": "A", "qty": 1}]') AS r2 \gset
SELECT order_mgmt.approve_return(1730, :r2);
SELECT order_mgmt.receive_return(1730, :r2);
SELECT return_id = :r2 AS second, refund_amount, store_credit
  FROM order_mgmt.return_request WHERE shop_id = 1730 AND order_id = :o1 ORDER BY return_id;
SELECT order_mgmt.refund(1730, :o1, 110);
SELECT status, payment_status, delivery_status FROM order_mgmt.orders WHERE shop_id = 1730 AND order_id = :o1;
SELECT kind, amount FROM order_mgmt.store_credit_ledger
 WHERE shop_id = 1730 AND order_id = :o1 ORDER BY entry_id;
-- an order paid with credit only, all returned: its credit is back, no money
-- is owed, so it is refunded and closed (completed) like any fully returned
-- and refunded order (issue 17 item 4); one unit back leaves it open
SELECT order_mgmt.upsert_customer(1730, 'kate', 'kate@example.com') IS NOT NULL AS kate;
SELECT order_mgmt.grant_store_credit(1730, 'kate', 200, 'goodwill') > 0 AS granted;
SELECT order_mgmt.checkout(1730, '[{"sku": "B", "qty": 2}]', customer_id => 'kate',
                           store_credit => 100) AS oc \gset
SELECT order_mgmt.ship(1730, :oc) IS NOT NULL AS shipped;
SELECT order_mgmt.set_delivery_status(1730, :oc, 'arrived');
SELECT order_mgmt.request_return(1730, :oc, '[{"sku": "B", "qty": 1}]') AS rc1 \gset
SELECT order_mgmt.approve_return(1730, :rc1);
SELECT order_mgmt.receive_return(1730, :rc1);
SELECT status, payment_status, delivery_status FROM order_mgmt.orders WHERE shop_id = 1730 AND order_id = :oc;
SELECT order_mgmt.request_return(1730, :oc, '[{"sku": "B", "qty": 1}]') AS rc2 \gset
SELECT order_mgmt.approve_return(1730, :rc2);
SELECT order_mgmt.receive_return(1730, :rc2);
SELECT status, payment_status, delivery_status, paid_amount, refunded_amount, completed_at IS NOT NULL AS closed
  FROM order_mgmt.orders WHERE shop_id = 1730 AND order_id = :oc;
SELECT order_mgmt.store_credit_balance(1730, 'kate') AS kate_after_full_return;

-- ---------------------------------------------------------------------------
-- Rewards in store credit (seed 001: points or 購物金 on completion)
-- ---------------------------------------------------------------------------
SELECT order_mgmt.update_shop(1730, '{"reward_unit": "store_credit", "reward_rate": 0.05}');
SELECT order_mgmt.update_shop(1730, '{"reward_unit": "cash"}');
\echo :LAST_ERROR_SQLSTATE
-- a day later, so verify() judges the order at the shop's current settings
SET order_mgmt.clock = '2026-12-06 10:00+00';
SELECT order_mgmt.checkout(1730, '[{"sku": "A", "qty": 3}]', customer_id => 'john') AS o4 \gset
SELECT order_mgmt.payment_succeeded(1730, :o4, 300, 'pay-o4');
SELECT order_mgmt.ship(1730, :o4) IS NOT NULL AS shipped;
SELECT order_mgmt.complete(1730, :o4);
SELECT order_mgmt.store_credit_balance(1730, 'john') AS earned;
SELECT count(*) AS no_points FROM order_mgmt.reward_ledger WHERE shop_id = 1730;
-- a refund takes back what the kept money no longer earns
SELECT order_mgmt.refund(1730, :o4, 100);
SELECT order_mgmt.store_credit_balance(1730, 'john') AS after_refund;
SELECT kind, amount, balance FROM order_mgmt.store_credit_ledger
 WHERE shop_id = 1730 AND customer_id = 'john' ORDER BY entry_id;
SELECT detail FROM order_mgmt.order_event
 WHERE shop_id = 1730 AND order_id = :o4 AND kind = 'reward' ORDER BY event_id;
SELECT order_mgmt.label('store_credit'::order_mgmt.reward_unit, 'zh-TW') AS zh,
       order_mgmt.label('spent'::order_mgmt.store_credit_kind, 'fi-FI') AS fi;

-- ---------------------------------------------------------------------------
-- A refund by method store_credit (seed 001, returns item 10) puts the money
-- on the customer's balance (ledger kind refunded); a guest order has no
-- balance to take it (22023, nothing written)
-- ---------------------------------------------------------------------------
SELECT order_mgmt.refund(1730, :o4, 50, 'credit-o4', 'as store credit', 'store_credit');
SELECT order_mgmt.store_credit_balance(1730, 'john') AS after_credit_refund;
SELECT kind, amount, balance, reason FROM order_mgmt.store_credit_ledger
 WHERE shop_id = 1730 AND customer_id = 'john' ORDER BY entry_id DESC LIMIT 2;
SELECT refund_method, amount FROM order_mgmt.payment
 WHERE shop_id = 1730 AND order_id = :o4 AND provider_ref = 'credit-o4';
SELECT order_mgmt.checkout(1730, '[{"sku": "A", "qty": 1}]', email => 'guest@example.com') AS g1 \gset
SELECT order_mgmt.payment_succeeded(1730, :g1, 100, 'pay-g1');
SELECT order_mgmt.refund(1730, :g1, 10, 'credit-g1', NULL, 'store_credit');
\echo :LAST_ERROR_SQLSTATE
SELECT payment_status, refunded_amount FROM order_mgmt.orders WHERE shop_id = 1730 AND order_id = :g1;

-- ---------------------------------------------------------------------------
-- The ledger is append-only, the columns the API's own
-- ---------------------------------------------------------------------------
DELETE FROM order_mgmt.store_credit_ledger WHERE shop_id = 1730;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET credit_applied = 0 WHERE shop_id = 1730 AND order_id = :o1;
\echo :LAST_ERROR_SQLSTATE

-- ---------------------------------------------------------------------------
-- verify() checks balance = ledger, never negative, and each order's credit
-- ---------------------------------------------------------------------------
SELECT * FROM order_mgmt.verify(1730);
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE order_mgmt.store_credit_balance SET balance = balance + 1 WHERE shop_id = 1730 AND customer_id = 'mary';
UPDATE order_mgmt.orders SET credit_applied = credit_applied + 1 WHERE shop_id = 1730 AND order_id = :o1;
SELECT check_name, detail FROM order_mgmt.verify(1730) ORDER BY 1, 2;
ROLLBACK;
SELECT * FROM order_mgmt.verify(1730);
RESET order_mgmt.clock;
