-- The sweep floor (issue 21; test/bench/run_due.sh's variants floor,
-- floor2 and floor0): the writes run_due() makes for a set of overdue
-- orders in a shop with auto_cancel_failed and no delay, done by plain SQL
-- on order_mgmt's own tables and indexes, one statement per batch, with no
-- code of order_mgmt.  The sweeper calls it in a session with
-- session_replication_role = replica, so order_mgmt's triggers do not run
-- and only the rows' own costs remain (no order_mgmt table has a foreign key
-- left on this path).  What one swept order writes (measured on main at
-- 0356573, pg_stat_user_tables and pg_stat_statements over 20,000 orders):
--   orders            2 UPDATEs, neither HOT (payment_status, then status,
--                     cancel_source, cancel_reason, cancelled_at; updated_at,
--                     lock_version)
--   order_event       5.2 rows: payment_status (unpaid -> failed), deadline
--                     {"action": "payment_timeout"}, order_status (pending
--                     -> cancelled, {"reason", "source"}), promo_release
--                     {"code"} on the 20% with a code, release {"holds": [...]},
--                     deadline {"action": "auto_cancel"}
--   reservation       1.5 UPDATEs (held -> released, resolved_at)
--   stock             1.4 UPDATEs of reserved (one per counter and set)
--   promo_redemption  0.2 UPDATEs (active -> released, released_at)
--   promo_code        one UPDATE of used per code and set
--   due_action        the auto_cancel row: 1 INSERT, 1 DELETE
-- Like run_due(), a batch takes its orders FOR NO KEY UPDATE SKIP LOCKED
-- and the counters (stock, codes) SKIP LOCKED, and leaves the orders whose
-- counters another sweeper holds for a later batch.
--   bench.sweep_floor(batch, 'floor')   the end state in one UPDATE per
--       order (the one row version the contract needs), the same events,
--       releases and counters, no due row: the needed sweep floor
--   bench.sweep_floor(batch, 'floor0')  the same without the events
--   bench.sweep_floor(batch, 'floor2')  what run_due() writes today: the
--       timeout (one row version, the auto_cancel due row) of up to batch
--       orders and the auto-cancel (the second row version, the due row
--       deleted) of up to batch orders timed out by earlier statements
-- Returns the orders it moved (0: nothing free was due).

CREATE FUNCTION bench.sweep_floor(batch int, variant text) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
	n bigint;
	m bigint;
BEGIN
	IF variant IN ('floor', 'floor0') THEN
		WITH c AS MATERIALIZED (
			SELECT o.shop_id, o.order_id, o.status, o.payment_status FROM order_mgmt.orders o
			WHERE o.payment_due_at <= now() AND o.payment_due_at IS NOT NULL
			  AND o.status IN ('pending', 'confirmed') AND o.payment_status IN ('unpaid', 'pending')
			ORDER BY o.payment_due_at LIMIT batch FOR NO KEY UPDATE OF o SKIP LOCKED),
		h AS MATERIALIZED (
			SELECT r.shop_id, r.order_id, r.sku, r.bucket FROM order_mgmt.reservation r
			JOIN c ON r.shop_id = c.shop_id AND r.order_id = c.order_id WHERE r.state = 'held'),
		gs AS MATERIALIZED (
			SELECT s.shop_id, s.sku, s.bucket FROM order_mgmt.stock s
			WHERE (s.shop_id, s.sku, s.bucket) IN (SELECT shop_id, sku, bucket FROM h)
			FOR NO KEY UPDATE OF s SKIP LOCKED),
		pr AS MATERIALIZED (
			SELECT p.shop_id, p.order_id, p.code_key, p.limited, p.who FROM order_mgmt.promo_redemption p
			JOIN c ON p.shop_id = c.shop_id AND p.order_id = c.order_id WHERE p.state = 'active'),
		gc AS MATERIALIZED (
			SELECT k.shop_id, k.code_key FROM order_mgmt.promo_code k
			WHERE (k.shop_id, k.code_key) IN (SELECT shop_id, code_key FROM pr WHERE limited)
			FOR NO KEY UPDATE OF k SKIP LOCKED),
		gu AS MATERIALIZED (
			SELECT w.shop_id, w.code_key, w.who FROM order_mgmt.promo_customer_use w
			WHERE (w.shop_id, w.code_key, w.who) IN (SELECT shop_id, code_key, who FROM pr WHERE who IS NOT NULL)
			FOR UPDATE OF w SKIP LOCKED),
		-- NOT IN (hashed subplans), not NOT EXISTS: with the CTEs' row estimates
		-- the planner may nest loops over them, quadratic in the batch
		busy AS (
			SELECT h.shop_id, h.order_id FROM h
			WHERE (h.shop_id, h.sku, h.bucket) NOT IN (SELECT shop_id, sku, bucket FROM gs)
			UNION ALL SELECT pr.shop_id, pr.order_id FROM pr
			WHERE pr.limited AND (pr.shop_id, pr.code_key) NOT IN (SELECT shop_id, code_key FROM gc)
			UNION ALL SELECT pr.shop_id, pr.order_id FROM pr
			WHERE pr.who IS NOT NULL AND (pr.shop_id, pr.code_key, pr.who) NOT IN (SELECT shop_id, code_key, who FROM gu)),
		f AS MATERIALIZED (
			SELECT c.* FROM c WHERE (c.shop_id, c.order_id) NOT IN (SELECT shop_id, order_id FROM busy)),
		u AS (
			UPDATE order_mgmt.orders o SET status = 'cancelled', payment_status = 'failed', cancel_source = 'system',
				cancel_reason = 'payment_timeout', cancelled_at = now(), updated_at = now(), lock_version = o.lock_version + 2
			FROM f WHERE o.shop_id = f.shop_id AND o.order_id = f.order_id
			RETURNING o.shop_id, o.order_id),
		r AS (
			UPDATE order_mgmt.reservation r SET state = 'released', resolved_at = now()
			FROM f WHERE r.shop_id = f.shop_id AND r.order_id = f.order_id AND r.state = 'held'
			RETURNING r.shop_id, r.order_id, r.reservation_id, r.sku, r.bucket, r.qty),
		s AS (
			UPDATE order_mgmt.stock s SET reserved = s.reserved - q.qty
			FROM (SELECT shop_id, sku, bucket, sum(qty)::int AS qty FROM r GROUP BY 1, 2, 3) q
			WHERE (s.shop_id, s.sku, s.bucket) = (q.shop_id, q.sku, q.bucket)),
		p AS (
			UPDATE order_mgmt.promo_redemption p SET state = 'released', released_at = now()
			FROM f WHERE p.shop_id = f.shop_id AND p.order_id = f.order_id AND p.state = 'active'
			RETURNING p.shop_id, p.order_id, p.code_key, p.limited, p.who),
		pc AS (
			UPDATE order_mgmt.promo_code k SET used = k.used - q.n
			FROM (SELECT shop_id, code_key, count(*)::int AS n FROM p WHERE limited GROUP BY 1, 2) q
			WHERE (k.shop_id, k.code_key) = (q.shop_id, q.code_key)),
		pw AS (
			UPDATE order_mgmt.promo_customer_use w SET used = w.used - q.n
			FROM (SELECT shop_id, code_key, who, count(*)::int AS n FROM p WHERE who IS NOT NULL GROUP BY 1, 2, 3) q
			WHERE (w.shop_id, w.code_key, w.who) = (q.shop_id, q.code_key, q.who)),
		e AS (
			INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, from_value, to_value, detail)
			SELECT x.shop_id, x.order_id, now(), 'system', x.kind, x.fv, x.tv, x.d FROM (
				SELECT f.shop_id, f.order_id, k.i, k.kind,
					   CASE k.i WHEN 1 THEN f.payment_status::text WHEN 3 THEN f.status::text END AS fv, k.tv, k.d
				FROM f CROSS JOIN (VALUES
					(1, 'payment_status'::order_mgmt.event_kind, 'failed', NULL::jsonb),
					(2, 'deadline', NULL, '{"action": "payment_timeout"}'),
					(3, 'order_status', 'cancelled', '{"reason": "payment_timeout", "source": "system"}'),
					(6, 'deadline', NULL, '{"action": "auto_cancel"}')) k(i, kind, tv, d)
				UNION ALL
				SELECT p.shop_id, p.order_id, 4, 'promo_release', NULL, NULL, jsonb_build_object('code', p.code_key) FROM p
				UNION ALL
				SELECT r.shop_id, r.order_id, 5, 'release', NULL, NULL,
					   jsonb_build_object('holds', jsonb_agg(jsonb_build_object('sku', r.sku, 'qty', r.qty, 'bucket', r.bucket)
															 ORDER BY r.reservation_id))
				FROM r GROUP BY r.shop_id, r.order_id) x
			WHERE variant = 'floor'
			ORDER BY x.shop_id, x.order_id, x.i)
		SELECT count(*) INTO n FROM u;
		RETURN n;
	END IF;

	IF variant <> 'floor2' THEN
		RAISE EXCEPTION 'unknown sweep floor variant %', variant;
	END IF;
	-- the timeouts: the first row version, the auto_cancel due row
	WITH t AS MATERIALIZED (
		SELECT o.shop_id, o.order_id, o.payment_status FROM order_mgmt.orders o
		WHERE o.payment_due_at <= now() AND o.payment_due_at IS NOT NULL
		  AND o.status IN ('pending', 'confirmed') AND o.payment_status IN ('unpaid', 'pending')
		ORDER BY o.payment_due_at LIMIT batch FOR NO KEY UPDATE OF o SKIP LOCKED),
	tu AS (
		UPDATE order_mgmt.orders o SET payment_status = 'failed', updated_at = now(), lock_version = o.lock_version + 1
		FROM t WHERE o.shop_id = t.shop_id AND o.order_id = t.order_id
		RETURNING o.shop_id, o.order_id),
	td AS (
		INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, reason, created_at)
		SELECT shop_id, order_id, 'auto_cancel', now(), 'payment_timeout', now() FROM tu),
	te AS (
		INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, from_value, to_value, detail)
		SELECT t.shop_id, t.order_id, now(), 'system', k.kind, CASE k.i WHEN 1 THEN t.payment_status::text END, k.tv, k.d
		FROM t CROSS JOIN (VALUES
			(1, 'payment_status'::order_mgmt.event_kind, 'failed', NULL::jsonb),
			(2, 'deadline', NULL, '{"action": "payment_timeout"}')) k(i, kind, tv, d)
		ORDER BY t.shop_id, t.order_id, k.i)
	SELECT count(*) INTO n FROM tu;
	-- the auto-cancels of the orders earlier statements timed out: the
	-- second row version, the due row deleted
	WITH c AS MATERIALIZED (
		SELECT d.shop_id, d.order_id, o.status FROM order_mgmt.due_action d
		JOIN order_mgmt.orders o ON o.shop_id = d.shop_id AND o.order_id = d.order_id
		WHERE d.due_at <= now() AND d.action = 'auto_cancel'
		ORDER BY d.due_at LIMIT batch FOR NO KEY UPDATE OF o SKIP LOCKED FOR UPDATE OF d SKIP LOCKED),
	h AS MATERIALIZED (
		SELECT r.shop_id, r.order_id, r.sku, r.bucket FROM order_mgmt.reservation r
		JOIN c ON r.shop_id = c.shop_id AND r.order_id = c.order_id WHERE r.state = 'held'),
	gs AS MATERIALIZED (
		SELECT s.shop_id, s.sku, s.bucket FROM order_mgmt.stock s
		WHERE (s.shop_id, s.sku, s.bucket) IN (SELECT shop_id, sku, bucket FROM h)
		FOR NO KEY UPDATE OF s SKIP LOCKED),
	pr AS MATERIALIZED (
		SELECT p.shop_id, p.order_id, p.code_key, p.limited, p.who FROM order_mgmt.promo_redemption p
		JOIN c ON p.shop_id = c.shop_id AND p.order_id = c.order_id WHERE p.state = 'active'),
	gc AS MATERIALIZED (
		SELECT k.shop_id, k.code_key FROM order_mgmt.promo_code k
		WHERE (k.shop_id, k.code_key) IN (SELECT shop_id, code_key FROM pr WHERE limited)
		FOR NO KEY UPDATE OF k SKIP LOCKED),
	gu AS MATERIALIZED (
		SELECT w.shop_id, w.code_key, w.who FROM order_mgmt.promo_customer_use w
		WHERE (w.shop_id, w.code_key, w.who) IN (SELECT shop_id, code_key, who FROM pr WHERE who IS NOT NULL)
		FOR UPDATE OF w SKIP LOCKED),
	-- NOT IN (hashed subplans), not NOT EXISTS: with the CTEs' row estimates
	-- the planner may nest loops over them, quadratic in the batch
	busy AS (
		SELECT h.shop_id, h.order_id FROM h
		WHERE (h.shop_id, h.sku, h.bucket) NOT IN (SELECT shop_id, sku, bucket FROM gs)
		UNION ALL SELECT pr.shop_id, pr.order_id FROM pr
		WHERE pr.limited AND (pr.shop_id, pr.code_key) NOT IN (SELECT shop_id, code_key FROM gc)
		UNION ALL SELECT pr.shop_id, pr.order_id FROM pr
		WHERE pr.who IS NOT NULL AND (pr.shop_id, pr.code_key, pr.who) NOT IN (SELECT shop_id, code_key, who FROM gu)),
	f AS MATERIALIZED (
		SELECT c.* FROM c WHERE (c.shop_id, c.order_id) NOT IN (SELECT shop_id, order_id FROM busy)),
	cd AS (
		DELETE FROM order_mgmt.due_action d USING f
		WHERE d.shop_id = f.shop_id AND d.order_id = f.order_id AND d.action = 'auto_cancel'),
	u AS (
		UPDATE order_mgmt.orders o SET status = 'cancelled', cancel_source = 'system', cancel_reason = 'payment_timeout',
			cancelled_at = now(), updated_at = now(), lock_version = o.lock_version + 1
		FROM f WHERE o.shop_id = f.shop_id AND o.order_id = f.order_id
		RETURNING o.shop_id, o.order_id),
	r AS (
		UPDATE order_mgmt.reservation r SET state = 'released', resolved_at = now()
		FROM f WHERE r.shop_id = f.shop_id AND r.order_id = f.order_id AND r.state = 'held'
		RETURNING r.shop_id, r.order_id, r.reservation_id, r.sku, r.bucket, r.qty),
	s AS (
		UPDATE order_mgmt.stock s SET reserved = s.reserved - q.qty
		FROM (SELECT shop_id, sku, bucket, sum(qty)::int AS qty FROM r GROUP BY 1, 2, 3) q
		WHERE (s.shop_id, s.sku, s.bucket) = (q.shop_id, q.sku, q.bucket)),
	p AS (
		UPDATE order_mgmt.promo_redemption p SET state = 'released', released_at = now()
		FROM f WHERE p.shop_id = f.shop_id AND p.order_id = f.order_id AND p.state = 'active'
		RETURNING p.shop_id, p.order_id, p.code_key, p.limited, p.who),
	pc AS (
		UPDATE order_mgmt.promo_code k SET used = k.used - q.n
		FROM (SELECT shop_id, code_key, count(*)::int AS n FROM p WHERE limited GROUP BY 1, 2) q
		WHERE (k.shop_id, k.code_key) = (q.shop_id, q.code_key)),
	pw AS (
		UPDATE order_mgmt.promo_customer_use w SET used = w.used - q.n
		FROM (SELECT shop_id, code_key, who, count(*)::int AS n FROM p WHERE who IS NOT NULL GROUP BY 1, 2, 3) q
		WHERE (w.shop_id, w.code_key, w.who) = (q.shop_id, q.code_key, q.who)),
	e AS (
		INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, from_value, to_value, detail)
		SELECT x.shop_id, x.order_id, now(), 'system', x.kind, x.fv, x.tv, x.d FROM (
			SELECT f.shop_id, f.order_id, k.i, k.kind, CASE k.i WHEN 3 THEN f.status::text END AS fv, k.tv, k.d
			FROM f CROSS JOIN (VALUES
				(3, 'order_status'::order_mgmt.event_kind, 'cancelled', '{"reason": "payment_timeout", "source": "system"}'::jsonb),
				(6, 'deadline', NULL, '{"action": "auto_cancel"}')) k(i, kind, tv, d)
			UNION ALL
			SELECT p.shop_id, p.order_id, 4, 'promo_release', NULL, NULL, jsonb_build_object('code', p.code_key) FROM p
			UNION ALL
			SELECT r.shop_id, r.order_id, 5, 'release', NULL, NULL,
				   jsonb_build_object('holds', jsonb_agg(jsonb_build_object('sku', r.sku, 'qty', r.qty, 'bucket', r.bucket)
														 ORDER BY r.reservation_id))
			FROM r GROUP BY r.shop_id, r.order_id) x
		ORDER BY x.shop_id, x.order_id, x.i)
	SELECT count(*) INTO m FROM u;
	RETURN n + m;
END
$fn$;
COMMENT ON FUNCTION bench.sweep_floor(int, text) IS 'The sweep floor (issue 21): run_due()''s writes for up to batch overdue orders by plain SQL; call with session_replication_role = replica';
