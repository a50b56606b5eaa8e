-- Issue 17: what the seed articles (../shared/seeds/) say, done as they
-- say it.  One section per item, headed by its seed; shop 1700.
SET order_mgmt.clock = '2026-12-01 10:00+00';
SELECT order_mgmt.create_shop(1700, 'Seed shop');
SELECT setval('order_mgmt.order_id_seq', 1700000);
SELECT order_mgmt.upsert_sku(1700, 'A', 100);
SELECT order_mgmt.set_stock(1700, 'A', 100);
-- run_due serves every shop: first finish what earlier tests left due
SELECT order_mgmt.run_due(100000) >= 0 AS flushed;
SELECT order_mgmt.run_due(100000) >= 0 AS flushed_auto_cancels;

-- ===========================================================================
-- Item 1, seed 000 (SHOPLINE, new order management): the payment time
-- limit is for online payment.  Cash on delivery gets no deadline by
-- default; a method the shop marks offline gets its own (payment_timeouts).
-- ===========================================================================
SELECT payment_timeout, payment_timeouts FROM order_mgmt.shop WHERE shop_id = 1700;
SELECT order_mgmt.update_shop(1700, '{"auto_cancel_failed": true}');
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"cod": null, "bank_transfer": "3 days"}}');
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', logistics => 'cod') AS cod1 \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', payment_method => 'cod') AS cod2 \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', payment_method => 'bank_transfer') AS bank \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]') AS card \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', logistics => 'cod', payment_timeout => '1 hour') AS cod3 \gset
SELECT order_id - :cod1 AS n, logistics, payment_method, payment_due_at - created_at AS limit
  FROM order_mgmt.orders WHERE shop_id = 1700 ORDER BY order_id;
SELECT order_id - :cod1 AS n, action, due_at FROM order_mgmt.due_action WHERE shop_id = 1700 ORDER BY 1, 2;
-- 30 minutes on: the card order failed and was cancelled; COD and transfer wait
SET order_mgmt.clock = '2026-12-01 10:30+00';
SELECT order_mgmt.run_due() > 0 AS ran;
SELECT order_mgmt.run_due() >= 0 AS ran;
SELECT order_id - :cod1 AS n, status, payment_status FROM order_mgmt.orders WHERE shop_id = 1700 ORDER BY order_id;
SET order_mgmt.clock = '2026-12-04 10:00+00';
SELECT order_mgmt.run_due() > 0 AS ran;
SELECT order_mgmt.run_due() >= 0 AS ran;
SELECT order_id - :cod1 AS n, status, payment_status, cancel_reason FROM order_mgmt.orders WHERE shop_id = 1700 ORDER BY order_id;
-- the setting is validated (22023) and replaced whole
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": "3 days"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": null}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"bank_transfer": "soon"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"bank_transfer": "-1 day"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"bank_transfer": 3}}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"": null}}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"cod": "2 days"}}');
SELECT payment_timeouts FROM order_mgmt.shop WHERE shop_id = 1700;
SELECT order_mgmt.update_shop(1700, '{"payment_timeouts": {"cod": null}}');

-- ===========================================================================
-- Item 2, seed 000 / SPEC §6: a cod order collected by its customer has
-- paid the carrier.  Its payment becomes paid with its total (a carrier
-- payment row, once), unless the shop records COD remittances itself; a
-- completed order is never a follow-up (seed 002's follow-ups).
-- ===========================================================================
SELECT order_mgmt.create_rule(1700, 'complete on collection', '{paid}', '{collected}', '0') > 0 AS rule;
SELECT order_mgmt.ship(1700, :cod1, 'Blackcat', 'BC-1') > 0 AS shipped;
SELECT order_mgmt.set_delivery_status(1700, :cod1, 'arrived');
SELECT order_id - :cod1 AS n, payment_status FROM order_mgmt.report_followups(1700) ORDER BY 1;
SELECT order_mgmt.set_delivery_status(1700, :cod1, 'collected');
SELECT status, payment_status, delivery_status, paid_amount = total AS paid_in_full, paid_at IS NOT NULL AS paid_at
  FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id = :cod1;
SELECT kind, method, amount, status, provider_ref = 'cod:' || :cod1 AS carrier_ref
  FROM order_mgmt.payment WHERE shop_id = 1700 AND order_id = :cod1;
SELECT kind, from_value, to_value, detail ->> 'method' AS method FROM order_mgmt.order_event
 WHERE shop_id = 1700 AND order_id = :cod1 AND kind IN ('payment_status', 'delivery_status', 'payment')
 ORDER BY event_id;
-- the automation rule completes it
SELECT order_mgmt.run_due() >= 0 AS ran;
SELECT status FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id = :cod1;
-- a plain UPDATE collects a cod order just the same
UPDATE order_mgmt.orders SET delivery_status = 'shipping' WHERE shop_id = 1700 AND order_id = :cod2;
UPDATE order_mgmt.orders SET delivery_status = 'shipped' WHERE shop_id = 1700 AND order_id = :cod2;
UPDATE order_mgmt.orders SET delivery_status = 'collected' WHERE shop_id = 1700 AND order_id = :cod2;
SELECT logistics, payment_status, delivery_status FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id = :cod2;
-- cod2 pays cash to a standard carrier: paid too
SELECT method, amount FROM order_mgmt.payment WHERE shop_id = 1700 AND order_id = :cod2;
-- a shop that records remittances itself: collected, completed, still unpaid,
-- and not a follow-up
SELECT order_mgmt.update_shop(1700, '{"cod_paid_on_collect": false}');
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 2}]', logistics => 'cod') AS cod4 \gset
SELECT order_mgmt.ship(1700, :cod4) > 0 AS shipped;
SELECT order_mgmt.set_delivery_status(1700, :cod4, 'arrived');
SELECT order_mgmt.set_delivery_status(1700, :cod4, 'collected');
SELECT order_mgmt.complete(1700, :cod4);
SELECT status, payment_status, delivery_status FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id = :cod4;
SELECT count(*) AS followups_of_completed FROM order_mgmt.report_followups(1700) f
  JOIN order_mgmt.orders o ON o.shop_id = 1700 AND o.order_id = f.order_id WHERE o.status = 'completed';
-- the remittance arrives: the merchant records it
SELECT order_mgmt.payment_succeeded(1700, :cod4, 200, 'remit-1', 'cod');
SELECT order_mgmt.update_shop(1700, '{"cod_paid_on_collect": true}');
SELECT * FROM order_mgmt.verify(1700);

-- ===========================================================================
-- Item 3, seed 004 (Shopify order processing): digital goods fulfil
-- themselves, and the original order is held while a post-purchase offer
-- is open.  Paid during the hold, a digital order is fulfilled when the
-- hold ends (run_due, or lazily by the next API call).
-- ===========================================================================
SET order_mgmt.clock = '2026-12-10 10:00+00';
SELECT order_mgmt.upsert_sku(1700, 'EBOOK', 30, digital => true);
SELECT order_mgmt.checkout(1700, '[{"sku": "EBOOK", "qty": 1}]', hold => '15 minutes') AS dig1 \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "EBOOK", "qty": 1}]', hold => '15 minutes') AS dig2 \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "EBOOK", "qty": 1}]', hold => '15 minutes') AS dig3 \gset
SELECT order_mgmt.payment_succeeded(1700, :dig1, 30, 'dig-1');
SELECT order_mgmt.payment_succeeded(1700, :dig3, 30, 'dig-3');
SELECT order_id - :dig1 AS n, payment_status, delivery_status FROM order_mgmt.orders
 WHERE shop_id = 1700 AND order_id >= :dig1 ORDER BY order_id;
SET order_mgmt.clock = '2026-12-10 10:15+00';
-- dig3's hold ends on the next call that touches it, the others' by run_due
SELECT order_mgmt.add_note(1700, :dig3, 'admin', 'sent the download link');
SELECT delivery_status FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id = :dig3;
SELECT order_mgmt.run_due() >= 0 AS ran;
SELECT order_id - :dig1 AS n, payment_status, delivery_status, hold_until, shipped_at IS NOT NULL AS delivered
  FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id >= :dig1 ORDER BY order_id;
SELECT kind, from_value, to_value, actor = 'system' AS by_system FROM order_mgmt.order_event
 WHERE shop_id = 1700 AND order_id = :dig1 AND kind IN ('delivery_status', 'deadline') ORDER BY event_id;
SET order_mgmt.clock = '2026-12-13 10:00+00';
SELECT order_id - :dig1 AS n, reason FROM order_mgmt.report_stuck(1700, '1 day') WHERE order_id >= :dig1;

-- ===========================================================================
-- Item 4, seed 001 (SHOPLINE, returns) and seed 004 (archiving): a fully
-- returned and fully refunded order is closed.  Whichever comes last, the
-- goods back (delivery returned) or the money back (payment refunded),
-- completes it; auto-archive then takes it.
-- ===========================================================================
SET order_mgmt.clock = '2026-12-20 10:00+00';
SELECT order_mgmt.update_shop(1700, '{"auto_archive_after": "30 days"}');
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 2}]') AS ret1 \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]') AS ret2 \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 2}]') AS ret3 \gset
SELECT order_mgmt.mark_paid(1700, order_id), order_mgmt.ship(1700, order_id) > 0 AS shipped,
       order_mgmt.set_delivery_status(1700, order_id, 'arrived')
  FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id IN (:ret1, :ret2, :ret3) ORDER BY order_id;
-- ret1: goods back first, then the money
SELECT order_mgmt.request_return(1700, :ret1, '[{"sku": "A", "qty": 2}]', 'too big') AS r1 \gset
SELECT order_mgmt.approve_return(1700, :r1);
SELECT order_mgmt.receive_return(1700, :r1);
SELECT status, payment_status, delivery_status FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id = :ret1;
SELECT order_mgmt.refund(1700, :ret1, 200);
-- ret2: money back first, then the goods
SELECT order_mgmt.request_return(1700, :ret2, '[{"sku": "A", "qty": 1}]') AS r2 \gset
SELECT order_mgmt.approve_return(1700, :r2);
SELECT order_mgmt.refund(1700, :ret2, 100);
SELECT status, payment_status, delivery_status FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id = :ret2;
SELECT order_mgmt.receive_return(1700, :r2);
-- ret3: half returned, half refunded: still open, completed as usual
SELECT order_mgmt.request_return(1700, :ret3, '[{"sku": "A", "qty": 1}]') AS r3 \gset
SELECT order_mgmt.approve_return(1700, :r3);
SELECT order_mgmt.receive_return(1700, :r3);
SELECT order_mgmt.refund(1700, :ret3, 100);
SELECT order_id - :ret1 AS n, status, payment_status, delivery_status, completed_at IS NOT NULL AS completed_at
  FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id IN (:ret1, :ret2, :ret3) ORDER BY order_id;
SELECT kind, from_value, to_value FROM order_mgmt.order_event
 WHERE shop_id = 1700 AND order_id = :ret1 AND kind IN ('order_status', 'payment_status', 'delivery_status')
 ORDER BY event_id;
SELECT order_id - :ret1 AS n, action FROM order_mgmt.due_action
 WHERE shop_id = 1700 AND order_id IN (:ret1, :ret2, :ret3) ORDER BY 1;
SET order_mgmt.clock = '2027-01-20 10:00+00';
SELECT order_mgmt.run_due() >= 0 AS ran;
SELECT order_id - :ret1 AS n, status, archived_at IS NOT NULL AS archived
  FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id IN (:ret1, :ret2, :ret3) ORDER BY order_id;
-- verify() accepts completed / refunded / returned, and still rejects a
-- completed order that was never paid and is no collected cod order
SELECT * FROM order_mgmt.verify(1700);
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE order_mgmt.orders SET payment_status = 'unpaid', paid_amount = 0, refunded_amount = 0, paid_at = NULL
 WHERE shop_id = 1700 AND order_id = :ret1;
SELECT check_name, replace(detail, :'ret1', 'ret1') AS detail FROM order_mgmt.verify(1700)
 WHERE check_name = 'status_combination';
ROLLBACK;

-- ===========================================================================
-- Item 5, seed 002 (ShopEx diagnosis): about 40% of lost orders are
-- recovered.  Recovered means revived and paid; a late payment for a
-- cancelled order whose stock has gone (money owed back) is no recovery.
-- ===========================================================================
SET order_mgmt.clock = '2027-02-01 10:00+00';
SELECT order_mgmt.upsert_sku(1700, 'LAST', 80);
SELECT order_mgmt.set_stock(1700, 'LAST', 1);
SELECT order_mgmt.checkout(1700, '[{"sku": "LAST", "qty": 1}]') AS mary \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]') AS revived \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]') AS failed_paid \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]') AS lost \gset
SELECT order_mgmt.payment_failed(1700, order_id, 'card declined')
  FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id IN (:mary, :revived, :failed_paid, :lost) ORDER BY order_id;
SELECT order_mgmt.cancel(1700, order_id, 'payment_failed')
  FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id IN (:mary, :revived, :lost) ORDER BY order_id;
-- John buys the last unit; Mary's late payment cannot revive her order
SELECT order_mgmt.checkout(1700, '[{"sku": "LAST", "qty": 1}]') AS john \gset
SELECT order_mgmt.payment_succeeded(1700, :mary, 80, 'mary-late');
-- the revived order's late payment revives it; the failed one is simply paid
SELECT order_mgmt.payment_succeeded(1700, :revived, 100, 'revived-late');
SELECT order_mgmt.payment_succeeded(1700, :failed_paid, 100, 'failed-paid');
SELECT order_id - :mary AS n, status, payment_status FROM order_mgmt.orders
 WHERE shop_id = 1700 AND order_id IN (:mary, :revived, :failed_paid, :lost) ORDER BY order_id;
SELECT * FROM order_mgmt.report_recovery(1700, '2027-02-01', '2027-02-01');
SELECT * FROM order_mgmt.verify(1700);

-- ===========================================================================
-- Item 12, seed 003 (Metrilo, saving cancelled orders): a discount for the
-- next order.  A guest order's win-back code goes to its e-mail
-- (normalize_email): a guest checkout with that e-mail, or a member who
-- joins with it later, may use it; anybody else gets OM002.
-- ===========================================================================
SET order_mgmt.clock = '2027-03-01 10:00+00';
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', email => ' Guest@Example.COM ') AS gone1 \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', email => 'twice@example.com') AS gone2 \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]') AS anon \gset
SELECT order_mgmt.cancel(1700, order_id, 'other')
  FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id IN (:gone1, :gone2, :anon) ORDER BY order_id;
SELECT order_mgmt.issue_winback_code(1700, :gone1) AS wb1 \gset
SELECT order_mgmt.issue_winback_code(1700, :gone1) = :'wb1' AS same_code;
SELECT order_mgmt.issue_winback_code(1700, :gone2) AS wb2 \gset
SELECT kind, value, usage_limit, customer_id, email_key, ends_at::date - starts_at::date AS days
  FROM order_mgmt.promo_code WHERE shop_id = 1700 AND code_key IN (:'wb1', :'wb2') ORDER BY code_key;
-- a guest order without e-mail gets none
SELECT order_mgmt.issue_winback_code(1700, :anon);
\echo :LAST_ERROR_SQLSTATE
-- someone else, a guest without e-mail, or a member with another e-mail: OM002
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', promo_code => :'wb1', email => 'other@example.com');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', promo_code => :'wb1');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_customer(1700, 'zoe', 'zoe@example.com');
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', promo_code => :'wb1', customer_id => 'zoe');
\echo :LAST_ERROR_SQLSTATE
-- the guest comes back with the same e-mail, written differently: accepted
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', promo_code => :'wb1', email => 'guest@example.com') AS back1 \gset
SELECT discount, email FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id = :back1;
-- single use: cancelled, the code is free again; reactivated, claimed again
SELECT order_mgmt.cancel(1700, :back1);
SELECT order_mgmt.reactivate(1700, :back1);
SELECT state FROM order_mgmt.promo_redemption WHERE shop_id = 1700 AND code_key = :'wb1';
-- the other guest joins as a member with that e-mail: the member may use it
SELECT order_mgmt.upsert_customer(1700, 'tim', 'TWICE@example.com');
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', promo_code => :'wb2', customer_id => 'tim') AS back2 \gset
SELECT customer_id, discount FROM order_mgmt.orders WHERE shop_id = 1700 AND order_id = :back2;
SELECT * FROM order_mgmt.verify(1700);

-- ===========================================================================
-- Item 8, seed 003 (Metrilo): record the reason and the feedback.  Every
-- feedback is kept, numbered per order; the latest is the current one,
-- which report_cancellations shows.
-- ===========================================================================
SET order_mgmt.clock = '2027-03-02 10:00+00';
SELECT order_mgmt.record_feedback(1700, :gone1, 'shipping_cost', 'shipping was too dear', 2);
SET order_mgmt.clock = '2027-03-02 11:00+00';
SELECT order_mgmt.record_feedback(1700, :gone1, 'delivery_time', 'and it would have come too late', 1);
-- a second one at the same time is kept too
SELECT order_mgmt.record_feedback(1700, :gone1, 'shipping_cost', 'on second thought: the shipping', 3);
SELECT feedback_no, reason, comment, score, recorded_at FROM order_mgmt.cancel_feedback
 WHERE shop_id = 1700 AND order_id = :gone1 ORDER BY feedback_no;
SELECT order_id - :gone1 AS n, reason, feedback, score
  FROM order_mgmt.report_cancellations(1700, '2027-03-01', '2027-03-01') WHERE order_id = :gone1;

-- ===========================================================================
-- Item 7, seeds 002 (ShopEx: why customers close orders) and 003 (Metrilo:
-- common reasons): every reason they name is a cancel_reason, with a label
-- in the five locales.
-- ===========================================================================
SELECT seed, said, r AS reason, order_mgmt.label(r, 'en') AS en, order_mgmt.label(r, 'zh-TW') AS zh_hant,
       order_mgmt.label(r, 'zh-CN') AS zh_hans, order_mgmt.label(r, 'th-TH') AS th, order_mgmt.label(r, 'fi-FI') AS fi
  FROM (VALUES ('002', 'impulse', 'impulse'), ('002', 'no balance', 'insufficient_funds'),
               ('002', 'found better', 'found_better_price'), ('002', 'bad service attitude', 'poor_service'),
               ('002', 'price not agreed', 'price_not_agreed'), ('002', 'size missing', 'size_unavailable'),
               ('002', 'slow service', 'slow_service'), ('003', 'changed mind', 'changed_mind'),
               ('003', 'shipping cost', 'shipping_cost'), ('003', 'delivery time', 'delivery_time'),
               ('003', 'return policy', 'return_policy'), ('003', 'payment method', 'payment_method'),
               ('003', 'forced account', 'forced_account')) AS s(seed, said, reason)
  CROSS JOIN LATERAL (SELECT s.reason::order_mgmt.cancel_reason AS r) c
 ORDER BY seed, said;
-- every cancel_reason has a label of its own in each locale
SELECT l AS locale, count(*) FILTER (WHERE order_mgmt.label(v, l) <> v::text) AS labelled, count(*) AS reasons
  FROM unnest(enum_range(NULL::order_mgmt.cancel_reason)) v,
       unnest(ARRAY['en', 'zh-Hant', 'zh-Hans', 'th', 'fi']) l
 GROUP BY l ORDER BY l;
-- the new reasons are reasons like any other: cancel, self-cancel, feedback, reports
SET order_mgmt.clock = '2027-03-03 10:00+00';
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]') AS why1 \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]') AS why2 \gset
SELECT order_mgmt.cancel(1700, :why1, 'insufficient_funds', 'will pay next month');
SELECT order_mgmt.cancel(1700, :why2, 'forced_account');
SELECT order_mgmt.record_feedback(1700, :why2, 'forced_account', 'did not want an account', 2);
SELECT reason, source, orders FROM order_mgmt.report_cancel_reasons(1700, '2027-03-03', '2027-03-03') ORDER BY reason;

-- ===========================================================================
-- Item 6, seed 002 (ShopEx diagnosis): staff call the customers of the
-- day's lost orders, urge those whose order is about to close (the time
-- left before the payment deadline), and those who received the goods but
-- did not confirm receipt.  report_followups: one row per order, its group
-- in followup, the channel rules as before.
-- ===========================================================================
SET order_mgmt.clock = '2027-04-01 10:00+00';
SELECT order_mgmt.update_shop(1700, '{"auto_cancel_failed": true, "auto_cancel_delay": "1 day",
                                      "payment_timeouts": {"cod": null, "bank_transfer": "3 days"}}');
SELECT order_mgmt.run_due(100000) >= 0 AS flushed;
SELECT order_mgmt.upsert_customer(1700, 'amy', 'amy@example.com');
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', customer_id => 'amy') AS fu_closing \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 3}]', email => 'big@example.com') AS fu_failed \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', payment_method => 'bank_transfer') AS fu_bank \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 2}]', email => 'lost@example.com') AS fu_lost \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]', email => 'got@example.com') AS fu_arrived \gset
SELECT order_mgmt.checkout(1700, '[{"sku": "A", "qty": 1}]') AS fu_paid \gset
SELECT order_mgmt.payment_failed(1700, :fu_failed, 'card declined');
SELECT order_mgmt.cancel(1700, :fu_lost, 'impulse');
SELECT order_mgmt.mark_paid(1700, order_id) FROM order_mgmt.orders
 WHERE shop_id = 1700 AND order_id IN (:fu_arrived, :fu_paid) ORDER BY order_id;
SELECT order_mgmt.ship(1700, :fu_arrived) > 0 AS shipped;
SELECT order_mgmt.set_delivery_status(1700, :fu_arrived, 'arrived');
SET order_mgmt.clock = '2027-04-01 10:20+00';
SELECT order_id - :fu_closing AS n, followup, time_left, channel, why, payment_status, total
  FROM order_mgmt.report_followups(1700) WHERE order_id >= :fu_closing;
-- the next day: the card order has failed and is closing too; yesterday's
-- lost order is no longer of the day, the failed one was auto-cancelled
-- and is lost today
SET order_mgmt.clock = '2027-04-02 10:10+00';
SELECT order_mgmt.run_due() >= 0 AS ran;
SELECT order_mgmt.run_due() >= 0 AS ran;
SELECT order_id - :fu_closing AS n, followup, time_left, channel, payment_status
  FROM order_mgmt.report_followups(1700) WHERE order_id >= :fu_closing;
-- completed: no longer a follow-up
SELECT order_mgmt.complete(1700, :fu_arrived);
SELECT count(*) AS completed_followups FROM order_mgmt.report_followups(1700) WHERE order_id = :fu_arrived;
SELECT * FROM order_mgmt.verify(1700);
