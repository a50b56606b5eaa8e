-- Deadlines (SPEC §6, §13): payment timeout, auto-cancel, run_due and lazy
-- application on any API call, all with the test clock.
SET order_mgmt.clock = '2026-11-01 10:00+00';
SELECT order_mgmt.create_shop(100, 'Deadline shop');
SELECT setval('order_mgmt.order_id_seq', 1000000);
SELECT order_mgmt.upsert_sku(100, 'A', 100);
SELECT order_mgmt.set_stock(100, 'A', 10);
-- run_due serves every shop: first finish what earlier tests left due
SELECT order_mgmt.run_due(100000) >= 0 AS flushed;
SELECT order_mgmt.run_due(100000) >= 0 AS flushed_auto_cancels;

-- timeout: unpaid at payment_due_at -> failed, stock still held (seed 000)
SELECT order_mgmt.checkout(100, '[{"sku": "A", "qty": 1}]') AS o1 \gset
SELECT order_mgmt.checkout(100, '[{"sku": "A", "qty": 1}]') AS o2 \gset
SELECT order_mgmt.payment_started(100, :o2, 'p-2');
SET order_mgmt.clock = '2026-11-01 10:29:59+00';
SELECT order_mgmt.run_due();
SET order_mgmt.clock = '2026-11-01 10:30+00';
SELECT order_mgmt.run_due();
SELECT order_id = :o1 AS first, status, payment_status FROM order_mgmt.orders WHERE shop_id = 100 ORDER BY order_id;
SELECT available FROM order_mgmt.stock_level WHERE shop_id = 100;
SELECT kind, from_value, to_value, actor, detail FROM order_mgmt.order_event WHERE order_id = :o1 ORDER BY event_id;
SELECT count(*) AS deadlines_left FROM order_mgmt.due_action WHERE shop_id = 100;
-- a failed order can still be paid
SELECT order_mgmt.payment_succeeded(100, :o1, 100, 'p-1');

-- auto-cancel: failed orders are cancelled auto_cancel_delay later by the system
SELECT order_mgmt.update_shop(100, '{"auto_cancel_failed": true, "auto_cancel_delay": "1 hour"}');
SELECT order_mgmt.checkout(100, '[{"sku": "A", "qty": 2}]') AS o3 \gset
SET order_mgmt.clock = '2026-11-01 11:00+00';
SELECT order_mgmt.run_due();
SELECT action, due_at, reason FROM order_mgmt.due_action WHERE order_id = :o3;
SET order_mgmt.clock = '2026-11-01 11:59+00';
SELECT order_mgmt.run_due();
SET order_mgmt.clock = '2026-11-01 12:00+00';
SELECT order_mgmt.run_due();
SELECT status, payment_status, cancel_source, cancel_reason FROM order_mgmt.orders WHERE order_id = :o3;
SELECT kind, from_value, to_value, actor FROM order_mgmt.order_event WHERE order_id = :o3 ORDER BY event_id;
SELECT available FROM order_mgmt.stock_level WHERE shop_id = 100;

-- a reported failure schedules it with reason payment_failed; a retry drops it; paying clears everything
SELECT order_mgmt.checkout(100, '[{"sku": "A", "qty": 1}]') AS o4 \gset
SELECT order_mgmt.payment_failed(100, :o4, 'declined');
SELECT action, due_at, reason FROM order_mgmt.due_action WHERE order_id = :o4 ORDER BY action;
SELECT order_mgmt.payment_started(100, :o4, 'p-4');
SELECT action FROM order_mgmt.due_action WHERE order_id = :o4 ORDER BY action;
SELECT order_mgmt.payment_succeeded(100, :o4, 100, 'p-4');
SELECT count(*) AS deadlines FROM order_mgmt.due_action WHERE order_id = :o4;

-- lazy application: no sweeper ran, yet the overdue deadline applies first
SELECT order_mgmt.checkout(100, '[{"sku": "A", "qty": 1}]') AS o5 \gset
SET order_mgmt.clock = '2026-11-01 12:31+00';
SELECT order_mgmt.payment_started(100, :o5, 'p-5');
SELECT status, payment_status FROM order_mgmt.orders WHERE order_id = :o5;
SELECT kind, from_value, to_value, actor FROM order_mgmt.order_event WHERE order_id = :o5 ORDER BY event_id;
-- a cancel arriving after the auto-cancel was due finds the order cancelled by the system
SET order_mgmt.clock = '2026-11-01 14:00+00';
SELECT order_mgmt.payment_failed(100, :o5, 'declined again', 'p-5b');
SET order_mgmt.clock = '2026-11-01 15:30+00';
SELECT order_mgmt.cancel(100, :o5, 'changed_mind');
SELECT status, cancel_source, cancel_reason FROM order_mgmt.orders WHERE order_id = :o5;

-- a reactivated order belongs to the merchant: no new deadline, no auto-cancel
SELECT order_mgmt.reactivate(100, :o5);
SELECT payment_due_at, reactivated_at FROM order_mgmt.orders WHERE order_id = :o5;
SELECT order_mgmt.payment_started(100, :o5, 'p-5c');
SELECT order_mgmt.payment_failed(100, :o5, 'declined a third time', 'p-5c');
SELECT count(*) AS deadlines FROM order_mgmt.due_action WHERE order_id = :o5;
SET order_mgmt.clock = '2026-11-03 00:00+00';
SELECT order_mgmt.run_due();
SELECT status, payment_status FROM order_mgmt.orders WHERE order_id = :o5;

-- run_due: bounded batches; bad argument
SET order_mgmt.clock = '2026-11-03 00:00+00';
SELECT count(*) FROM (SELECT order_mgmt.checkout(100, '[{"sku": "A", "qty": 1}]') FROM generate_series(1, 3)) s;
SET order_mgmt.clock = '2026-11-04 00:00+00';
SELECT order_mgmt.run_due(2);
SELECT order_mgmt.run_due(2);
SELECT order_mgmt.run_due(2);
SELECT order_mgmt.run_due(0);
\echo :LAST_ERROR_SQLSTATE

-- a batch gives stock and promo uses back at its end, once per row; an
-- order whose cancellation fails in the batch gives nothing back and stays due
SET order_mgmt.clock = '2026-11-05 00:00+00';
SELECT order_mgmt.update_shop(100, '{"auto_cancel_failed": true, "auto_cancel_delay": "0 seconds"}');
SELECT order_mgmt.upsert_sku(100, 'B', 100);
SELECT order_mgmt.set_stock(100, 'B', 10);
SELECT order_mgmt.upsert_customer(100, 'bc', 'bc@example.com');
SELECT order_mgmt.create_promo(100, 'BATCH', 'amount', 5, usage_limit => 10, per_customer_limit => 5);
SELECT order_mgmt.checkout(100, '[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]',
						   customer_id => 'bc', promo_code => 'BATCH') AS b1 \gset
SELECT order_mgmt.checkout(100, '[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]',
						   customer_id => 'bc', promo_code => 'BATCH') AS b2 \gset
SELECT order_mgmt.checkout(100, '[{"sku": "B", "qty": 3}]',
						   customer_id => 'bc', promo_code => 'BATCH') AS b3 \gset
SELECT sku, reserved, available FROM order_mgmt.stock_level WHERE shop_id = 100 ORDER BY sku;
SELECT p.used, u.used AS customer_used FROM order_mgmt.promo_code p
JOIN order_mgmt.promo_customer_use u USING (shop_id, code_key) WHERE p.shop_id = 100 AND p.code_key = 'batch';
-- b2's stock release fails after its promo use and units were counted
CREATE FUNCTION public.refuse_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.order_id = current_setting('test.refused')::bigint AND NEW.kind = 'release' THEN
		RAISE EXCEPTION 'release of order % refused', NEW.order_id;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER refuse_release BEFORE INSERT ON order_mgmt.order_event
	FOR EACH ROW EXECUTE FUNCTION public.refuse_release();
SELECT set_config('test.refused', :'b2', false) IS NOT NULL AS set;
SET order_mgmt.clock = '2026-11-06 00:00+00';
SELECT order_mgmt.run_due(100) AS timed_out;
\set VERBOSITY terse
SELECT order_mgmt.run_due(100) AS cancelled;
\set VERBOSITY default
SELECT order_id = :b2 AS refused, status, payment_status FROM order_mgmt.orders
WHERE order_id IN (:b1, :b2, :b3) ORDER BY order_id;
SELECT sku, reserved, available FROM order_mgmt.stock_level WHERE shop_id = 100 ORDER BY sku;
SELECT p.used, u.used AS customer_used FROM order_mgmt.promo_code p
JOIN order_mgmt.promo_customer_use u USING (shop_id, code_key) WHERE p.shop_id = 100 AND p.code_key = 'batch';
-- its deadline backs off (sql/sweep_backoff.sql): due again a minute later
SELECT action, attempts, last_error, due_at - failed_at AS backoff FROM order_mgmt.due_action WHERE order_id = :b2;
SELECT * FROM order_mgmt.verify();
-- once the release goes through, the batch after the backoff cancels it
DROP TRIGGER refuse_release ON order_mgmt.order_event;
DROP FUNCTION public.refuse_release();
SET order_mgmt.clock = '2026-11-06 00:01+00';
SELECT order_mgmt.run_due(100) AS cancelled;
SELECT status FROM order_mgmt.orders WHERE order_id = :b2;
SELECT sku, reserved, available FROM order_mgmt.stock_level WHERE shop_id = 100 ORDER BY sku;
SELECT p.used, u.used AS customer_used FROM order_mgmt.promo_code p
JOIN order_mgmt.promo_customer_use u USING (shop_id, code_key) WHERE p.shop_id = 100 AND p.code_key = 'batch';
SELECT count(*) AS release_events FROM order_mgmt.order_event
WHERE order_id IN (:b1, :b2, :b3) AND kind IN ('release', 'promo_release');

-- a batch defers its events and writes them at its end, in the order they
-- happened (the three timeouts in one UPDATE); an order whose action fails
-- leaves none of its events behind
SET order_mgmt.clock = '2026-11-07 00:00+00';
SELECT order_mgmt.checkout(100, '[{"sku": "B", "qty": 1}]', customer_id => 'bc', promo_code => 'BATCH') AS d1 \gset
SELECT order_mgmt.checkout(100, '[{"sku": "B", "qty": 1}]', customer_id => 'bc', promo_code => 'BATCH') AS d2 \gset
SELECT order_mgmt.checkout(100, '[{"sku": "B", "qty": 1}]', customer_id => 'bc', promo_code => 'BATCH') AS d3 \gset
SELECT max(event_id) AS before_batch FROM order_mgmt.order_event \gset
CREATE FUNCTION public.refuse_resolve() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.order_id = current_setting('test.refused')::bigint AND NEW.state <> OLD.state THEN
		RAISE EXCEPTION 'reservation of order % refused', NEW.order_id;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER refuse_resolve BEFORE UPDATE ON order_mgmt.reservation
	FOR EACH ROW EXECUTE FUNCTION public.refuse_resolve();
SELECT set_config('test.refused', :'d2', false) IS NOT NULL AS set;
SET order_mgmt.clock = '2026-11-08 00:00+00';
SELECT order_mgmt.run_due(100) AS timed_out;
\set VERBOSITY terse
SELECT order_mgmt.run_due(100) AS cancelled;
\set VERBOSITY default
-- d2 has its timeout events only; d1 and d3 all theirs, each order's in order
SELECT CASE order_id WHEN :d1 THEN 'd1' WHEN :d2 THEN 'd2' ELSE 'd3' END AS o,
	   kind, from_value, to_value, detail->>'action' AS action, actor
FROM order_mgmt.order_event WHERE order_id IN (:d1, :d2, :d3) AND event_id > :before_batch
ORDER BY order_id, event_id;
SELECT order_id = :d2 AS refused, status FROM order_mgmt.orders WHERE order_id IN (:d1, :d2, :d3) ORDER BY order_id;
SELECT * FROM order_mgmt.verify();
DROP TRIGGER refuse_resolve ON order_mgmt.reservation;
DROP FUNCTION public.refuse_resolve();
SET order_mgmt.clock = '2026-11-08 00:01+00';
SELECT order_mgmt.run_due(100) AS cancelled;
SELECT kind, to_value FROM order_mgmt.order_event WHERE order_id = :d2 AND event_id > :before_batch ORDER BY event_id;

-- the timeouts of a batch go in one UPDATE; when one order's move fails
-- there, the batch does them one by one and leaves only that order
SET order_mgmt.clock = '2026-11-09 00:00+00';
SELECT order_mgmt.checkout(100, '[{"sku": "B", "qty": 1}]') AS e1 \gset
SELECT order_mgmt.checkout(100, '[{"sku": "B", "qty": 1}]') AS e2 \gset
SELECT order_mgmt.checkout(100, '[{"sku": "B", "qty": 1}]') AS e3 \gset
CREATE FUNCTION public.refuse_failure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.order_id = current_setting('test.refused')::bigint AND NEW.payment_status = 'failed' THEN
		RAISE EXCEPTION 'failure of order % refused', NEW.order_id;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER refuse_failure BEFORE UPDATE ON order_mgmt.orders
	FOR EACH ROW EXECUTE FUNCTION public.refuse_failure();
SELECT set_config('test.refused', :'e2', false) IS NOT NULL AS set;
SET order_mgmt.clock = '2026-11-10 00:00+00';
\set VERBOSITY terse
SELECT order_mgmt.run_due(100) AS timed_out;
\set VERBOSITY default
SELECT order_id = :e2 AS refused, payment_status,
	   (SELECT count(*) FROM order_mgmt.order_event e WHERE e.order_id = o.order_id AND e.kind = 'deadline') AS deadline_events,
	   (SELECT count(*) FROM order_mgmt.due_action d WHERE d.order_id = o.order_id AND d.action = 'payment_timeout') AS still_due
FROM order_mgmt.orders o WHERE order_id IN (:e1, :e2, :e3) ORDER BY order_id;
DROP TRIGGER refuse_failure ON order_mgmt.orders;
DROP FUNCTION public.refuse_failure();
SET order_mgmt.clock = '2026-11-10 00:01+00';
SELECT order_mgmt.run_due(100) AS timed_out;
SELECT payment_status FROM order_mgmt.orders WHERE order_id = :e2;

-- a set's side effects go in one statement each for all its orders, with
-- exactly the effects one order at a time has: the auto-cancel scheduled
-- with its delay and reason; on cancelling, every held unit given back in
-- one release event per order, the order's other deadlines dropped and its
-- archiving scheduled.  (That the statuses of all three orders come before
-- their releases in the log shows the set ran, not the one-by-one path.)
SET order_mgmt.clock = '2026-11-11 00:00+00';
SELECT order_mgmt.update_shop(100, '{"auto_cancel_delay": "1 hour", "auto_archive_after": "30 days"}');
SELECT order_mgmt.checkout(100, '[{"sku": "B", "qty": 2}, {"sku": "A", "qty": 1}]') AS f1 \gset
SELECT order_mgmt.checkout(100, '[{"sku": "B", "qty": 1}]', hold => '3 days') AS f2 \gset
SELECT order_mgmt.checkout(100, '[{"sku": "A", "qty": 1}]', customer_id => 'bc', promo_code => 'BATCH') AS f3 \gset
SELECT sku, reserved FROM order_mgmt.stock WHERE shop_id = 100 ORDER BY sku;
SELECT max(event_id) AS before_sets FROM order_mgmt.order_event \gset
SET order_mgmt.clock = '2026-11-12 00:00+00';
SELECT order_mgmt.run_due(100) AS timed_out;
SELECT CASE order_id WHEN :f1 THEN 'f1' WHEN :f2 THEN 'f2' ELSE 'f3' END AS o, action, due_at, reason
FROM order_mgmt.due_action WHERE order_id IN (:f1, :f2, :f3) ORDER BY order_id, action;
SET order_mgmt.clock = '2026-11-12 02:00+00';
SELECT order_mgmt.run_due(100) AS cancelled;
SELECT CASE order_id WHEN :f1 THEN 'f1' WHEN :f2 THEN 'f2' ELSE 'f3' END AS o, status, cancel_source, cancel_reason
FROM order_mgmt.orders WHERE order_id IN (:f1, :f2, :f3) ORDER BY order_id;
SELECT CASE order_id WHEN :f1 THEN 'f1' WHEN :f2 THEN 'f2' ELSE 'f3' END AS o, sku, qty, state, resolved_at
FROM order_mgmt.reservation WHERE order_id IN (:f1, :f2, :f3) ORDER BY order_id, sku;
SELECT CASE order_id WHEN :f1 THEN 'f1' WHEN :f2 THEN 'f2' ELSE 'f3' END AS o, action, due_at
FROM order_mgmt.due_action WHERE order_id IN (:f1, :f2, :f3) ORDER BY order_id, action;
SELECT sku, reserved FROM order_mgmt.stock WHERE shop_id = 100 ORDER BY sku;
SELECT CASE order_id WHEN :f1 THEN 'f1' WHEN :f2 THEN 'f2' ELSE 'f3' END AS o, kind, to_value, detail
FROM order_mgmt.order_event WHERE order_id IN (:f1, :f2, :f3) AND event_id > :before_sets
  AND kind IN ('order_status', 'release', 'promo_release')
ORDER BY event_id;
SELECT order_mgmt.update_shop(100, '{"auto_cancel_delay": "0 seconds", "auto_archive_after": null}');

-- an API call that a trigger makes within a set's UPDATE has its effects at
-- once, as anywhere else: g3's units are back before the trigger returns
SET order_mgmt.clock = '2026-11-13 00:00+00';
SELECT order_mgmt.checkout(100, '[{"sku": "B", "qty": 1}]') AS g1 \gset
SELECT order_mgmt.checkout(100, '[{"sku": "B", "qty": 1}]') AS g2 \gset
SET order_mgmt.clock = '2026-11-14 00:00+00';
SELECT order_mgmt.checkout(100, '[{"sku": "A", "qty": 1}]') AS g3 \gset
CREATE FUNCTION public.cancel_another() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	other bigint := current_setting('test.other')::bigint;
BEGIN
	IF NEW.order_id = current_setting('test.trigger')::bigint AND NEW.payment_status = 'failed' THEN
		PERFORM order_mgmt.cancel(NEW.shop_id, other, 'other');
		RAISE NOTICE 'other order: %', (SELECT string_agg(r.state::text, ',') FROM order_mgmt.reservation r
									   WHERE r.shop_id = NEW.shop_id AND r.order_id = other);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER cancel_another AFTER UPDATE ON order_mgmt.orders
	FOR EACH ROW EXECUTE FUNCTION public.cancel_another();
SELECT set_config('test.trigger', :'g1', false) IS NOT NULL AS set, set_config('test.other', :'g3', false) IS NOT NULL AS set;
SELECT order_mgmt.run_due(100) AS timed_out;
DROP TRIGGER cancel_another ON order_mgmt.orders;
DROP FUNCTION public.cancel_another();
SELECT CASE order_id WHEN :g1 THEN 'g1' WHEN :g2 THEN 'g2' ELSE 'g3' END AS o, status, payment_status,
	   (SELECT count(*) FROM order_mgmt.order_event e WHERE e.order_id = o.order_id AND e.kind = 'release') AS releases
FROM order_mgmt.orders o WHERE order_id IN (:g1, :g2, :g3) ORDER BY order_id;

RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify();
