-- Outbox stress (outbox.sh), after setup.sql -v shops=2: two consumers of
-- both shops' events that record every event they are delivered, in the
-- transaction that moves their position, with a delivery number per
-- consumer and shop.  next_events keeps its position in the extension
-- (consumer "stress", registered from the start); events_since keeps its
-- cursor, the last event_id it returned, in outbox.position.
DROP SCHEMA IF EXISTS outbox CASCADE;
CREATE SCHEMA outbox;

-- no unique key: a duplicate delivery must show
CREATE TABLE outbox.delivered (
	consumer text NOT NULL,
	shop_id bigint NOT NULL,
	event_id bigint NOT NULL,
	order_id bigint NOT NULL,
	seq bigint NOT NULL,				-- 1, 2, ... per consumer and shop
	at timestamptz NOT NULL,			-- the event's: its writer's transaction start
	delivered_at timestamptz NOT NULL
);
CREATE TABLE outbox.position (
	consumer text NOT NULL,
	shop_id bigint NOT NULL,
	last_event_id bigint NOT NULL DEFAULT 0,	-- events_since's cursor
	seq bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (consumer, shop_id)
);
INSERT INTO outbox.position (consumer, shop_id)
SELECT c, s FROM unnest(ARRAY['next_events', 'events_since']) c, generate_series(1, 2) s;
CREATE TABLE outbox.control (stop boolean NOT NULL);
INSERT INTO outbox.control VALUES (false);
SELECT order_mgmt.register_consumer(s, 'stress', from_start => true) FROM generate_series(1, 2) s;

-- One read of one shop's events, recorded in the caller's transaction;
-- returns how many.
CREATE FUNCTION outbox.read(who text, shop bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_last bigint;
	v_base bigint;
	v_got bigint;
	v_newest bigint;
BEGIN
	SELECT p.last_event_id, p.seq INTO v_last, v_base FROM outbox.position p
	WHERE p.consumer = who AND p.shop_id = shop FOR UPDATE;
	IF who = 'next_events' THEN
		WITH ins AS (
			INSERT INTO outbox.delivered
			SELECT who, e.shop_id, e.event_id, e.order_id, v_base + e.n, e.at, clock_timestamp()
			FROM order_mgmt.next_events(shop, 'stress', 500) WITH ORDINALITY
				AS e(shop_id, event_id, order_id, at, actor, kind, from_value, to_value, detail, xid, n)
			RETURNING seq, event_id)
		SELECT count(*), (array_agg(event_id ORDER BY seq DESC))[1] INTO v_got, v_newest FROM ins;
	ELSE
		WITH ins AS (
			INSERT INTO outbox.delivered
			SELECT who, e.shop_id, e.event_id, e.order_id, v_base + e.n, e.at, clock_timestamp()
			FROM order_mgmt.events_since(shop, v_last, 500) WITH ORDINALITY
				AS e(shop_id, event_id, order_id, at, actor, kind, from_value, to_value, detail, xid, n)
			RETURNING seq, event_id)
		SELECT count(*), (array_agg(event_id ORDER BY seq DESC))[1] INTO v_got, v_newest FROM ins;
	END IF;
	IF v_got > 0 THEN
		-- the cursor is the LAST event returned (they come in (xid, event_id) order)
		UPDATE outbox.position SET seq = v_base + v_got, last_event_id = v_newest
		WHERE consumer = who AND shop_id = shop;
	END IF;
	RETURN v_got;
END
$$;

-- Every event of the shops is of a transaction below the horizon of a
-- new snapshot (nothing that wrote one is still running).
CREATE FUNCTION outbox.settled() RETURNS boolean LANGUAGE sql VOLATILE AS $$
	SELECT NOT EXISTS (SELECT FROM order_mgmt.order_event e
					   WHERE e.shop_id IN (1, 2)
						 AND e.xid >= pg_snapshot_xmin(pg_current_snapshot()))
$$;

-- A consumer: reads both shops, commits, again, until told to stop; then
-- drains.  It is done after a pass that found nothing, begun after the
-- stop (the writers had ended) and once every event's transaction was
-- below the horizon (events_since returns nothing above it).
CREATE PROCEDURE outbox.consume(who text)
LANGUAGE plpgsql AS $$
DECLARE
	stopping boolean := false;
	settled boolean;
	got bigint;
	deadline timestamptz;
BEGIN
	LOOP
		IF NOT stopping THEN
			SELECT stop INTO stopping FROM outbox.control;
			deadline := clock_timestamp() + interval '120 s';
		END IF;
		settled := stopping AND outbox.settled();
		got := outbox.read(who, 1) + outbox.read(who, 2);
		COMMIT;
		EXIT WHEN settled AND got = 0;
		IF stopping AND clock_timestamp() > deadline THEN
			RAISE EXCEPTION 'outbox: consumer % did not drain in 120 s', who;
		END IF;
		IF got = 0 THEN
			PERFORM pg_sleep(0.005);
		END IF;
	END LOOP;
END
$$;
