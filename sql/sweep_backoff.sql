-- A due action that fails backs off (issue 14).  run_due() reports it as a
-- WARNING, counts the failure on its due_action row (attempts, last_error,
-- failed_at) and moves its due_at later: 1 minute, doubling with each
-- failure, at most 1 hour.  So it no longer comes back at the head of the
-- queue on every pass, and the batch does the rows behind it instead.  Once
-- the cause is gone and the new due_at has passed, it succeeds and its row
-- is deleted.  The clock is set before the deadlines the other tests leave,
-- so run_due() sees only this shop's.
SET order_mgmt.clock = '2021-03-01 10:00+00';
SELECT order_mgmt.create_shop(180, 'Backoff shop');
SELECT setval('order_mgmt.order_id_seq', 1800000);
SELECT order_mgmt.upsert_sku(180, 'A', 100);
SELECT order_mgmt.set_stock(180, 'A', 10);
-- F is due first (10:30), G and H behind it (10:31, 10:32)
SELECT order_mgmt.checkout(180, '[{"sku": "A", "qty": 1}]', order_no => 'F') AS f \gset
SET order_mgmt.clock = '2021-03-01 10:01+00';
SELECT order_mgmt.checkout(180, '[{"sku": "A", "qty": 1}]', order_no => 'G') AS g \gset
SET order_mgmt.clock = '2021-03-01 10:02+00';
SELECT order_mgmt.checkout(180, '[{"sku": "A", "qty": 1}]', order_no => 'H') AS h \gset
SELECT count(*) AS due_by_11 FROM order_mgmt.due_action WHERE due_at <= '2021-03-01 11:00+00';
SELECT attempts, last_error, failed_at FROM order_mgmt.due_action WHERE order_id = :f;

-- a constraint of the shop's own refuses F's payment failure
ALTER TABLE order_mgmt.orders ADD CONSTRAINT f_never_fails
	CHECK (shop_id <> 180 OR order_no <> 'F' OR payment_status <> 'failed');

-- a batch of two: F fails, and G and H behind it time out; the WARNING
-- says when F is due again
SET order_mgmt.clock = '2021-03-01 11:00+00';
SELECT order_mgmt.run_due(2) AS done;
SELECT order_no, payment_status FROM order_mgmt.orders WHERE shop_id = 180 ORDER BY order_no;
SELECT action, attempts, last_error, failed_at, due_at FROM order_mgmt.due_action WHERE order_id = :f;

-- not tried again at the head of the queue: nothing is due until 11:01
SELECT order_mgmt.run_due(2) AS done;
SELECT attempts, due_at FROM order_mgmt.due_action WHERE order_id = :f;
SET order_mgmt.clock = '2021-03-01 11:00:59+00';
SELECT order_mgmt.run_due(2) AS done;
-- then every failure doubles the wait, up to an hour
SET order_mgmt.clock = '2021-03-01 11:01+00';
\set VERBOSITY terse
SELECT order_mgmt.run_due(2) AS done;
\set VERBOSITY default
SELECT attempts, failed_at, due_at, due_at - failed_at AS backoff FROM order_mgmt.due_action WHERE order_id = :f;
CREATE TEMPORARY TABLE backoff (attempts integer, backoff interval);
SELECT set_config('test.f', :'f', false) IS NOT NULL AS set;
DO $$
DECLARE
	f bigint := current_setting('test.f')::bigint;
BEGIN
	SET LOCAL client_min_messages = error;
	FOR i IN 1..6 LOOP
		PERFORM set_config('order_mgmt.clock', (SELECT due_at::text FROM order_mgmt.due_action WHERE order_id = f), true);
		PERFORM order_mgmt.run_due(2);
		INSERT INTO backoff SELECT attempts, due_at - failed_at FROM order_mgmt.due_action WHERE order_id = f;
	END LOOP;
END
$$;
SELECT * FROM backoff ORDER BY attempts;
SELECT action, attempts, last_error, failed_at, due_at FROM order_mgmt.due_action WHERE order_id = :f;

-- the cause gone, F times out at its new due_at, and its row is deleted
ALTER TABLE order_mgmt.orders DROP CONSTRAINT f_never_fails;
SELECT due_at AS f_due FROM order_mgmt.due_action WHERE order_id = :f \gset
SELECT set_config('order_mgmt.clock', (:'f_due'::timestamptz - interval '1 second')::text, false) IS NOT NULL AS set;
SELECT order_mgmt.run_due(2) AS done;
SELECT payment_status FROM order_mgmt.orders WHERE order_id = :f;
SELECT set_config('order_mgmt.clock', :'f_due', false) IS NOT NULL AS set;
SELECT order_mgmt.run_due(2) AS done;
SELECT order_no, payment_status FROM order_mgmt.orders WHERE shop_id = 180 ORDER BY order_no;
SELECT kind, from_value, to_value, actor FROM order_mgmt.order_event WHERE order_id = :f ORDER BY event_id;
SELECT count(*) AS f_deadlines FROM order_mgmt.due_action WHERE order_id = :f;

-- a DBA finds failing deadlines by their attempts: none left
SELECT count(*) AS failing FROM order_mgmt.due_action WHERE attempts > 0;
RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify(180);
