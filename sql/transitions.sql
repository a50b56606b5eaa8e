-- Every allowed move succeeds and every other move fails with OM005, on the
-- direct UPDATE path (SPEC §3).  The from x to matrix is generated from the
-- enums, not listed by hand; each from-state is reached by a shortest path
-- of allowed moves from an order's first state.  partially_shipped is the
-- one exception: it records which lines went out in which package, so only
-- ship_package() moves an order there, and a direct UPDATE into it fails
-- with OM005 too (its moves are tried in sql/seed_001_packages.sql).  The
-- payment moves that edit_order() makes when an edit changes the amount due
-- (via 'edit_order ...') are refused to a direct UPDATE the same way (tried
-- in sql/seed_003_edit.sql).
SELECT order_mgmt.create_shop(10, 'Matrix shop');

CREATE TABLE tm_result (machine text, from_value text, to_value text, expected text, got text);

-- The money columns are the truth (SPEC §1.2): a payment status must agree
-- with them.  So before each payment move the matrix puts, behind the
-- guard, the money (and the payment rows) that status needs on an order
-- with no lines (total 0); the move is then judged by the machine alone.
CREATE FUNCTION tm_money(o bigint, state text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	paid numeric := CASE WHEN state IN ('paid', 'refunding', 'partially_refunded', 'refunded') THEN 100 ELSE 0 END;
	refunded numeric := CASE state WHEN 'partially_refunded' THEN 40 WHEN 'refunded' THEN 100 ELSE 0 END;
BEGIN
	PERFORM set_config('session_replication_role', 'replica', true);
	UPDATE order_mgmt.orders SET paid_amount = paid, refunded_amount = refunded
	WHERE shop_id = 10 AND order_id = o;
	-- and the payment rows the amounts are the sums of (verify() checks it)
	DELETE FROM order_mgmt.payment WHERE shop_id = 10 AND order_id = o;
	INSERT INTO order_mgmt.payment (shop_id, order_id, kind, amount, status, created_at)
	SELECT 10, o, k.kind::order_mgmt.payment_kind, k.amount, 'succeeded', now()
	FROM (VALUES ('charge', paid), ('refund', refunded)) k (kind, amount) WHERE k.amount > 0;
	PERFORM set_config('session_replication_role', 'origin', true);
END
$$;

DO $$
DECLARE
	r record;
	step text;
	oid_ bigint;
	got text;
	col text;
BEGIN
	FOR r IN
		WITH RECURSIVE walk(machine, logistics, state, path) AS (
			VALUES ('order_status', 'standard', 'pending', ARRAY[]::text[]),
				   ('payment_status', 'standard', 'unpaid', ARRAY[]::text[]),
				   ('delivery_status', 'standard', 'unfulfilled', ARRAY[]::text[]),
				   ('delivery_status', 'integrated', 'not_executed', ARRAY[]::text[])
			UNION ALL
			SELECT w.machine, w.logistics, t.to_value, w.path || t.to_value
			FROM walk w
			JOIN order_mgmt.transitions t ON t.machine = w.machine AND t.from_value = w.state
			WHERE t.to_value <> w.state AND cardinality(w.path) < 6 AND t.to_value <> 'partially_shipped'
			  AND t.via NOT LIKE 'edit_order%'
		), shortest AS (
			SELECT DISTINCT ON (machine, state) machine, logistics, state, path
			FROM walk ORDER BY machine, state, cardinality(path), logistics
		), states AS (
			SELECT t.typname::text AS machine, e.enumlabel AS value
			FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
			JOIN pg_namespace n ON n.oid = t.typnamespace AND n.nspname = 'order_mgmt'
			WHERE t.typname IN ('order_status', 'payment_status', 'delivery_status')
		)
		SELECT s.machine, s.logistics, s.state AS from_value, s.path, x.value AS to_value,
			   CASE WHEN x.value <> 'partially_shipped' AND EXISTS (SELECT FROM order_mgmt.transitions t
								 WHERE t.machine = s.machine AND t.from_value = s.state
								   AND t.to_value = x.value AND t.via NOT LIKE 'edit_order%')
					THEN 'ok' ELSE 'OM005' END AS expected
		FROM shortest s JOIN states x ON x.machine = s.machine
		WHERE x.value <> s.state
		   OR EXISTS (SELECT FROM order_mgmt.transitions t
					  WHERE t.machine = s.machine AND t.from_value = s.state AND t.to_value = s.state)
		ORDER BY 1, 3, 5
	LOOP
		INSERT INTO order_mgmt.orders (shop_id, currency, logistics)
		VALUES (10, 'TWD', r.logistics::order_mgmt.logistics_kind)
		RETURNING order_id INTO oid_;
		col := CASE r.machine WHEN 'order_status' THEN 'status' ELSE r.machine END;
		FOREACH step IN ARRAY r.path LOOP
			IF r.machine = 'order_status' AND step = 'completed' THEN
				PERFORM tm_money(oid_, 'paid');
				UPDATE order_mgmt.orders SET payment_status = 'paid' WHERE shop_id = 10 AND order_id = oid_;
			END IF;
			IF r.machine = 'payment_status' THEN
				PERFORM tm_money(oid_, step);
			END IF;
			EXECUTE format('UPDATE order_mgmt.orders SET %I = %L WHERE shop_id = 10 AND order_id = %s',
						   col, step, oid_);
		END LOOP;
		BEGIN
			IF r.machine = 'order_status' AND r.to_value = 'completed' THEN
				PERFORM tm_money(oid_, 'paid');
				UPDATE order_mgmt.orders SET payment_status = 'paid'
				WHERE shop_id = 10 AND order_id = oid_ AND payment_status = 'unpaid';
			END IF;
			IF r.machine = 'payment_status' THEN
				PERFORM tm_money(oid_, r.to_value);
			END IF;
			EXECUTE format('UPDATE order_mgmt.orders SET %I = %L WHERE shop_id = 10 AND order_id = %s',
						   col, r.to_value, oid_);
			got := 'ok';
		EXCEPTION WHEN OTHERS THEN
			got := SQLSTATE;
		END;
		INSERT INTO tm_result VALUES (r.machine, r.from_value, r.to_value, r.expected, got);
	END LOOP;
END
$$;

-- every state of every machine was reached and tried
SELECT machine, count(DISTINCT from_value) AS from_states,
	   count(*) FILTER (WHERE expected = 'ok') AS allowed,
	   count(*) FILTER (WHERE expected <> 'ok') AS refused,
	   count(*) FILTER (WHERE expected = got) AS as_expected
FROM tm_result GROUP BY machine ORDER BY machine;

-- any move whose outcome differs from the table (none)
SELECT * FROM tm_result WHERE expected IS DISTINCT FROM got;

-- the allowed moves, as the matrix saw them
SELECT machine, from_value, string_agg(to_value, ', ' ORDER BY to_value) AS allowed_to
FROM tm_result WHERE got = 'ok' GROUP BY machine, from_value ORDER BY machine, from_value;

-- one refused move in full: machine, from and to in the error
INSERT INTO order_mgmt.orders (shop_id, order_id, currency) VALUES (10, 1000001, 'TWD');
UPDATE order_mgmt.orders SET payment_status = 'refunded' WHERE shop_id = 10 AND order_id = 1000001;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET delivery_status = 'returned' WHERE shop_id = 10 AND order_id = 1000001;
\echo :LAST_ERROR_SQLSTATE
-- a failed move changes nothing, and logs nothing
SELECT status, payment_status, delivery_status FROM order_mgmt.orders WHERE order_id = 1000001;
SELECT count(*) FROM order_mgmt.order_event WHERE order_id = 1000001;

-- staying put is not a move
UPDATE order_mgmt.orders SET status = 'pending' WHERE shop_id = 10 AND order_id = 1000001;
SELECT count(*) FROM order_mgmt.order_event WHERE order_id = 1000001;

-- every successful move wrote exactly one event with from and to
SELECT count(*) AS moves_without_event FROM tm_result r WHERE got = 'ok' AND from_value <> to_value
  AND NOT EXISTS (SELECT FROM order_mgmt.order_event e
				  WHERE e.shop_id = 10 AND e.kind::text = r.machine
					AND e.from_value = r.from_value AND e.to_value = r.to_value);

-- a new order must start in the first states (a superuser's own INSERT is
-- taken as it is, which is how pg_restore brings orders back)
CREATE ROLE om_insert_clerk;
GRANT USAGE ON SCHEMA order_mgmt TO om_insert_clerk;
GRANT INSERT ON order_mgmt.orders TO om_insert_clerk;
GRANT USAGE ON SEQUENCE order_mgmt.order_id_seq TO om_insert_clerk;
SET ROLE om_insert_clerk;
INSERT INTO order_mgmt.orders (shop_id, currency, status) VALUES (10, 'TWD', 'completed');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO order_mgmt.orders (shop_id, currency, logistics, delivery_status) VALUES (10, 'TWD', 'cod', 'unfulfilled');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO order_mgmt.orders (shop_id, order_id, currency, logistics) VALUES (10, 1000002, 'TWD', 'cod');
RESET ROLE;
SELECT status, payment_status, delivery_status FROM order_mgmt.orders WHERE order_id = 1000002;
DROP OWNED BY om_insert_clerk;
DROP ROLE om_insert_clerk;

DROP TABLE tm_result;
-- The walk moved payment by plain UPDATEs of orders without money, so
-- every order the matrix moved agrees with its money: verify() finds nothing
SELECT * FROM order_mgmt.verify(10);
