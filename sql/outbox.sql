-- The outbox (SPEC §12, issue 15): events_since, named consumers with
-- next_events, per-shop NOTIFY channels; their errors change nothing.
-- Event ids depend on the tests before this one, so we show kinds and
-- counts.  Races are in test/specs/outbox_skips.spec.
SET order_mgmt.clock = '2026-12-12 10:00+00';
SELECT order_mgmt.create_shop(250, 'Outbox shop');
SELECT order_mgmt.create_shop(251, 'Outbox neighbour');
SELECT setval('order_mgmt.order_id_seq', 2500000);
SELECT order_mgmt.upsert_sku(250, 'A', 100);
SELECT order_mgmt.set_stock(250, 'A', 50);
SELECT order_mgmt.upsert_sku(251, 'A', 100);
SELECT order_mgmt.set_stock(251, 'A', 50);

-- every event records its transaction
BEGIN;
SELECT order_mgmt.checkout(250, '[{"sku": "A", "qty": 1}]', order_no => 'OB-1') AS ob1 \gset
SELECT count(*) AS events, bool_and(xid = pg_current_xact_id()) AS own_xid
FROM order_mgmt.order_event WHERE shop_id = 250;
COMMIT;

-- a consumer that starts now sees nothing of the past; one from the start all
SELECT order_mgmt.register_consumer(250, 'now');
SELECT order_mgmt.register_consumer(250, 'all', from_start => true);
SELECT order_mgmt.register_consumer(250, 'all');  -- exists: false, unchanged
SELECT kind FROM order_mgmt.next_events(250, 'now');
SELECT kind FROM order_mgmt.next_events(250, 'all');
SELECT kind FROM order_mgmt.next_events(250, 'all');  -- acknowledged by commit

-- a batch pages by max; rollback gets the same events again
SELECT order_mgmt.payment_succeeded(250, :ob1, 100, 'ob-pay-1');
SELECT order_mgmt.ship(250, :ob1, 'post', 'T-1') > 0 AS shipped;
BEGIN;
SELECT kind, to_value FROM order_mgmt.next_events(250, 'all', 2);
ROLLBACK;
SELECT kind, to_value FROM order_mgmt.next_events(250, 'all', 2);
SELECT consumer, batch_snapshot IS NOT NULL AS in_batch FROM order_mgmt.event_consumer
WHERE shop_id = 250 ORDER BY consumer;
SELECT kind, to_value FROM order_mgmt.next_events(250, 'all', 2);
SELECT kind, to_value FROM order_mgmt.next_events(250, 'all', 2);
SELECT count(*) AS more FROM order_mgmt.next_events(250, 'all');
SELECT count(*) AS now_got FROM order_mgmt.next_events(250, 'now');
-- events_since too leaves a transaction's events to after its commit
BEGIN;
SELECT order_mgmt.add_note(250, :ob1, 'support', 'own') IS NULL AS noted;
SELECT count(*) FILTER (WHERE kind = 'note') AS own_notes FROM order_mgmt.events_since(250, 0);
COMMIT;

-- the reader's own transaction: its events, written before or after the
-- read, come in the batch after its commit, to it as to everyone
BEGIN;
SELECT order_mgmt.checkout(250, '[{"sku": "A", "qty": 1}]', order_no => 'OB-OWN') > 0 AS bought;
SELECT kind AS committed_before FROM order_mgmt.next_events(250, 'all');  -- not its own checkout
SELECT order_mgmt.cancel(250, order_id) FROM order_mgmt.orders WHERE shop_id = 250 AND order_no = 'OB-OWN';
SELECT count(*) AS own_after FROM order_mgmt.next_events(250, 'all');
COMMIT;
SELECT kind, to_value FROM order_mgmt.next_events(250, 'all');

-- events_since: the same events in (xid, event_id) order, resumable
SELECT string_agg(kind::text, ' ' ORDER BY n) AS kinds
FROM order_mgmt.events_since(250, 0) WITH ORDINALITY AS e(shop_id, event_id, order_id, at, actor, kind, from_value, to_value, detail, xid, n);
SELECT max(event_id) AS last_checkout FROM order_mgmt.order_event
WHERE shop_id = 250 AND kind = 'checkout' \gset
SELECT kind FROM order_mgmt.events_since(250, :last_checkout, 2);
-- another shop's events never show
SELECT order_mgmt.checkout(251, '[{"sku": "A", "qty": 1}]') > 0 AS bought;
SELECT count(*) FILTER (WHERE shop_id <> 250) AS foreign FROM order_mgmt.events_since(250, 0, 100000);

-- errors, each changing nothing
SELECT * FROM order_mgmt.events_since(250, -1);
\echo :LAST_ERROR_SQLSTATE
SELECT max(event_id) AS neighbours FROM order_mgmt.order_event WHERE shop_id = 251 \gset
\set VERBOSITY sqlstate
SELECT * FROM order_mgmt.events_since(250, :neighbours);  -- the event is shop 251's
\set VERBOSITY default
SELECT * FROM order_mgmt.events_since(250, 0, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.events_since(NULL, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.next_events(250, 'nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM order_mgmt.next_events(250, 'all', 100001);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.register_consumer(999, 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.register_consumer(250, '');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.register_consumer(250, repeat('x', 201));
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.register_consumer(250, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS consumers FROM order_mgmt.event_consumer WHERE shop_id = 250;
SELECT order_mgmt.drop_consumer(250, 'now'), order_mgmt.drop_consumer(250, 'now');

-- NOTIFY: off by default; a random channel per shop, or one the admin
-- names (test/specs/notify_events.spec listens); JSON null turns it off
SELECT notify_channel IS NULL AS off FROM order_mgmt.shop WHERE shop_id = 250;
SELECT order_mgmt.enable_notify(250) ~ '^order_mgmt_[0-9a-f]{24}$' AS random_name;
SELECT order_mgmt.enable_notify(250) <> notify_channel AS renamed FROM order_mgmt.shop WHERE shop_id = 250;
SELECT order_mgmt.update_shop(250, '{"notify_channel": "shop_250"}');
SELECT order_mgmt.update_shop(250, '{"notify_channel": "Shop 250"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(250, '{"notify_channel": "9lives"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(250, jsonb_build_object('notify_channel', repeat('x', 64)));
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.enable_notify(999);
\echo :LAST_ERROR_SQLSTATE
SELECT notify_channel FROM order_mgmt.shop WHERE shop_id = 250;
SELECT order_mgmt.update_shop(250, '{"notify_channel": null}');
SELECT notify_channel IS NULL AS off FROM order_mgmt.shop WHERE shop_id = 250;

-- who may: the app reads events and runs consumers; only admins choose
-- channels; nobody but the owner rebases
SET ROLE order_mgmt_app;
SELECT count(*) > 0 AS app_reads FROM order_mgmt.next_events(250, 'all');
SELECT order_mgmt.register_consumer(250, 'app');
SELECT order_mgmt.enable_notify(250);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.rebase_events();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- a log restored from another cluster (transaction ids this cluster has
-- not handed out) is refused until rebase_events() moves it below them
SET session_replication_role = replica;
UPDATE order_mgmt.order_event SET xid = '9000000000'
WHERE event_id = (SELECT max(event_id) FROM order_mgmt.order_event WHERE shop_id = 250);
RESET session_replication_role;
\set VERBOSITY sqlstate
SELECT count(*) FROM order_mgmt.events_since(250, 0);
SELECT count(*) FROM order_mgmt.next_events(250, 'all');
\set VERBOSITY default
DO $$
BEGIN
	PERFORM count(*) FROM order_mgmt.events_since(250, 0);
EXCEPTION WHEN object_not_in_prerequisite_state THEN
	RAISE NOTICE '%', regexp_replace(SQLERRM, '[0-9]{4,}', 'N', 'g');
END
$$;
SET client_min_messages = warning;  -- its NOTICE counts every test's events
SELECT order_mgmt.rebase_events() > 0 AS rebased;
RESET client_min_messages;
SELECT count(DISTINCT xid) AS xids, min(xid::text::bigint) AS xid FROM order_mgmt.order_event;  -- min(xid8): PostgreSQL 15+
SELECT count(*) > 0 AS readable FROM order_mgmt.events_since(250, 0);
SELECT order_mgmt.checkout(250, '[{"sku": "A", "qty": 1}]') > 0 AS bought;
SELECT kind FROM order_mgmt.next_events(250, 'all');
SELECT kind FROM order_mgmt.next_events(250, 'app');
SELECT * FROM order_mgmt.verify(250);
