-- Order status automation and reward points (SPEC §9, seed 001).
SET order_mgmt.clock = '2026-12-03 09:00+00';
SELECT order_mgmt.create_shop(140, 'Automation shop');
SELECT setval('order_mgmt.order_id_seq', 1400000);
SELECT order_mgmt.update_shop(140, '{"reward_rate": 0.1}');
SELECT order_mgmt.upsert_sku(140, 'A', 333);
SELECT order_mgmt.set_stock(140, 'A', 100);
SELECT order_mgmt.upsert_customer(140, 'kim', 'kim@example.com');

-- seven days after a paid order arrives (or is collected), it completes
SELECT order_mgmt.create_rule(140, 'complete 7 days after arrival', '{paid, partially_refunded}',
							  '{arrived, collected}', '7 days') AS rule \gset
SELECT name, payment_in, delivery_in, delay, enabled FROM order_mgmt.automation_rule WHERE rule_id = :rule;

SELECT order_mgmt.checkout(140, '[{"sku": "A", "qty": 3}]', customer_id => 'kim') AS o1 \gset
SELECT order_mgmt.payment_succeeded(140, :o1, 999, 'p-1');
SELECT order_mgmt.ship(140, :o1) > 0 AS shipped;
SELECT count(*) AS deadlines FROM order_mgmt.due_action WHERE order_id = :o1;
SET order_mgmt.clock = '2026-12-05 09:00+00';
SELECT order_mgmt.set_delivery_status(140, :o1, 'arrived');
SELECT action, due_at FROM order_mgmt.due_action WHERE order_id = :o1;
-- arrived -> collected still matches: the due time stays where it first was
SET order_mgmt.clock = '2026-12-06 09:00+00';
SELECT order_mgmt.set_delivery_status(140, :o1, 'collected');
SELECT action, due_at FROM order_mgmt.due_action WHERE order_id = :o1;
SET order_mgmt.clock = '2026-12-12 08:59+00';
SELECT order_mgmt.run_due(100000) >= 0 AS swept;
SELECT status FROM order_mgmt.orders WHERE order_id = :o1;
SET order_mgmt.clock = '2026-12-12 09:00+00';
SELECT order_mgmt.run_due(100000) >= 0 AS swept;
SELECT status, completed_at FROM order_mgmt.orders WHERE order_id = :o1;
SELECT kind, from_value, to_value, actor, detail FROM order_mgmt.order_event
WHERE order_id = :o1 AND kind IN ('order_status', 'reward', 'deadline') ORDER BY event_id;
-- floor((999 - 0) * 0.1) = 99 points, earned once
SELECT customer_id, points, kind FROM order_mgmt.reward_ledger WHERE order_id = :o1;

-- a refund takes back the points the money no longer earns
SELECT order_mgmt.refund(140, :o1, 333, 'r-1');
SELECT order_mgmt.refund(140, :o1, 5, 'r-2');
SELECT points, kind FROM order_mgmt.reward_ledger WHERE order_id = :o1 ORDER BY entry_id;
SELECT sum(CASE kind WHEN 'earned' THEN points ELSE -points END) AS balance FROM order_mgmt.reward_ledger WHERE order_id = :o1;
SELECT order_mgmt.refund(140, :o1, 661, 'r-3');
SELECT sum(CASE kind WHEN 'earned' THEN points ELSE -points END) AS balance FROM order_mgmt.reward_ledger WHERE order_id = :o1;

-- statuses that stop matching before the due time: nothing happens
SELECT order_mgmt.checkout(140, '[{"sku": "A", "qty": 1}]', customer_id => 'kim') AS o2 \gset
SELECT order_mgmt.payment_succeeded(140, :o2, 333, 'p-2');
SELECT order_mgmt.ship(140, :o2) > 0 AS shipped;
SELECT order_mgmt.set_delivery_status(140, :o2, 'arrived');
SELECT count(*) AS deadlines FROM order_mgmt.due_action WHERE order_id = :o2 AND action = 'automation_complete';
SELECT order_mgmt.set_delivery_status(140, :o2, 'returning');
SELECT count(*) AS deadlines FROM order_mgmt.due_action WHERE order_id = :o2 AND action = 'automation_complete';
SET order_mgmt.clock = '2026-12-30 09:00+00';
SELECT order_mgmt.run_due(100000) >= 0 AS swept;
SELECT status FROM order_mgmt.orders WHERE order_id = :o2;

-- a rule switched off before the due time does nothing either
SELECT order_mgmt.checkout(140, '[{"sku": "A", "qty": 1}]') AS o3 \gset
SELECT order_mgmt.payment_succeeded(140, :o3, 333, 'p-3');
SELECT order_mgmt.ship(140, :o3) > 0 AS shipped;
SELECT order_mgmt.set_delivery_status(140, :o3, 'arrived');
UPDATE order_mgmt.automation_rule SET enabled = false WHERE rule_id = :rule;
SET order_mgmt.clock = '2027-01-10 09:00+00';
SELECT order_mgmt.run_due(100000) >= 0 AS swept;
SELECT status FROM order_mgmt.orders WHERE order_id = :o3;
-- completing by hand: a guest order earns no points
SELECT order_mgmt.complete(140, :o3);
SELECT count(*) AS points_rows FROM order_mgmt.reward_ledger WHERE order_id = :o3;

-- create_rule: bad input
SELECT order_mgmt.create_rule(140, '', '{paid}', '{arrived}', '1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_rule(140, 'r', '{}', '{arrived}', '1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_rule(140, 'r', '{paid,NULL}', '{arrived}', '1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_rule(140, 'r', '{paid}', '{teleported}', '1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_rule(140, 'r', '{paid}', '{arrived}', '-1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_rule(999, 'r', '{paid}', '{arrived}', '1 day');
\echo :LAST_ERROR_SQLSTATE
-- the ledger is append-only
UPDATE order_mgmt.reward_ledger SET points = 1000000 WHERE order_id = :o1;
\echo :LAST_ERROR_SQLSTATE


-- a run_due() set of payment timeouts sets and drops the automation
-- deadlines of all its orders with one statement, as one order at a time
-- would: a deadline whose rule no longer matches is dropped, a matching
-- rule sets one (an existing deadline stays as it is)
SET order_mgmt.clock = '2026-12-20 09:00+00';
SELECT order_mgmt.create_shop(141, 'Automation set shop');
SELECT order_mgmt.upsert_sku(141, 'A', 100);
SELECT order_mgmt.set_stock(141, 'A', 100);
SELECT order_mgmt.create_rule(141, 'chase pending', '{pending}', '{unfulfilled}', '1 day') AS r_pending \gset
SELECT order_mgmt.create_rule(141, 'chase failed', '{failed}', '{unfulfilled}', '2 days') AS r_failed \gset
UPDATE order_mgmt.automation_rule SET enabled = false WHERE rule_id = :r_failed;
SELECT order_mgmt.checkout(141, '[{"sku": "A", "qty": 1}]') AS a1 \gset
SELECT order_mgmt.checkout(141, '[{"sku": "A", "qty": 1}]') AS a2 \gset
SELECT order_mgmt.checkout(141, '[{"sku": "A", "qty": 1}]') AS a3 \gset
SELECT order_mgmt.payment_started(141, :a1, 'ps-1');
SELECT order_mgmt.payment_started(141, :a2, 'ps-2');
SELECT CASE order_id WHEN :a1 THEN 'a1' WHEN :a2 THEN 'a2' ELSE 'a3' END AS o, action, r.name, due_at
FROM order_mgmt.due_action d JOIN order_mgmt.automation_rule r USING (shop_id, rule_id)
WHERE d.shop_id = 141 ORDER BY 1;
SET order_mgmt.clock = '2026-12-20 10:00+00';
SELECT order_mgmt.run_due(100) AS timed_out;
SELECT count(*) AS deadlines FROM order_mgmt.due_action WHERE shop_id = 141;
UPDATE order_mgmt.automation_rule SET enabled = true WHERE rule_id = :r_failed;
SELECT order_mgmt.checkout(141, '[{"sku": "A", "qty": 1}]') AS b1 \gset
SELECT order_mgmt.checkout(141, '[{"sku": "A", "qty": 1}]') AS b2 \gset
SELECT order_mgmt.payment_started(141, :b1, 'ps-3');
SET order_mgmt.clock = '2026-12-20 11:00+00';
SELECT order_mgmt.run_due(100) AS timed_out;
SELECT CASE order_id WHEN :b1 THEN 'b1' WHEN :b2 THEN 'b2' ELSE 'other' END AS o, action, r.name, due_at
FROM order_mgmt.due_action d JOIN order_mgmt.automation_rule r USING (shop_id, rule_id)
WHERE d.shop_id = 141 ORDER BY 1;

RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify();
