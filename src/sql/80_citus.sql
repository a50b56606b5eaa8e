
-- ---------------------------------------------------------------------------
-- Citus (issue 16, docs/citus.md): order_mgmt.distribute() distributes the
-- schema on a Citus coordinator, once the workers are added.
-- ---------------------------------------------------------------------------
CREATE FUNCTION order_mgmt.claim_id_range()
	RETURNS integer
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, order_mgmt, pg_temp
AS $$
DECLARE
	g bigint;
	lo bigint;
	hi bigint;
	s record;
	n integer := 0;
	propagate text;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'cannot claim an id range: citus is not installed in this database'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'On a single node the sequences need no range.';
	END IF;
	EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO g;
	-- this node's sequences only: Citus refuses to propagate the ALTER of a
	-- sequence a distributed table's default uses
	propagate := pg_catalog.current_setting('citus.enable_ddl_propagation');
	PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
	lo := (g << 48) + 1;
	hi := ((g + 1) << 48) - 1;
	FOR s IN
		SELECT q.schemaname, q.sequencename, q.last_value
		FROM pg_catalog.pg_sequences q
		WHERE q.schemaname = 'order_mgmt' AND (q.min_value <> lo OR q.max_value <> hi)
		ORDER BY q.sequencename
	LOOP
		IF s.last_value > hi THEN
			RAISE EXCEPTION 'cannot move sequence %.% to the id range of node group %', s.schemaname, s.sequencename, g
				USING ERRCODE = 'object_not_in_prerequisite_state',
					DETAIL = format('Its last value %s is above the range %s .. %s.', s.last_value, lo, hi);
		END IF;
		EXECUTE format('ALTER SEQUENCE %I.%I MINVALUE %s MAXVALUE %s START WITH %s RESTART WITH %s',
					   s.schemaname, s.sequencename, lo, hi, lo, greatest(lo, coalesce(s.last_value, 0) + 1));
		n := n + 1;
	END LOOP;
	PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', propagate, true);
	RETURN n;
END
$$;
COMMENT ON FUNCTION order_mgmt.claim_id_range() IS
	'On a Citus node: moves order_mgmt''s sequences into the node''s own id range (its group id in the top 16 bits of 64), so ids are unique in the cluster; order_mgmt.distribute() runs it on every node; returns how many sequences it moved';

CREATE FUNCTION order_mgmt.distribute()
	RETURNS integer
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, order_mgmt, pg_temp
AS $$
DECLARE
	t regclass;
	f regprocedure;
	n integer;
	r record;
	done integer := 0;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'cannot distribute order_mgmt: citus is not installed in this database'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				DETAIL = 'order_mgmt.distribute() makes the shop tables Citus distributed tables and the API functions Citus distributed functions.',
				HINT = 'Add citus to shared_preload_libraries, run CREATE EXTENSION citus and add the workers with citus_add_node() first; on a single node nothing needs distributing.';
	END IF;
	IF NOT pg_catalog.citus_is_coordinator() THEN
		RAISE EXCEPTION 'cannot distribute order_mgmt from a worker node'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				DETAIL = 'Tables and functions are distributed from the Citus coordinator.',
				HINT = 'Connect to the coordinator and run SELECT order_mgmt.distribute() there.';
	END IF;
	-- the shop tables carry order_mgmt's C triggers, which run on the shards
	SET LOCAL citus.enable_unsafe_triggers = on;
	IF NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'order_mgmt.shop'::regclass) THEN
		PERFORM create_distributed_table('order_mgmt.shop', 'shop_id');
		done := done + 1;
	END IF;
	-- every table with a shop_id, co-located with shop; referenced tables first
	LOOP
		n := 0;
		FOR t IN
			SELECT c.oid FROM pg_catalog.pg_class c
			WHERE c.relnamespace = 'order_mgmt'::regnamespace AND c.relkind = 'r'
			  AND EXISTS (SELECT FROM pg_catalog.pg_attribute a
						  WHERE a.attrelid = c.oid AND a.attname = 'shop_id' AND NOT a.attisdropped)
			  AND NOT EXISTS (SELECT FROM pg_dist_partition d WHERE d.logicalrelid = c.oid)
			  AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint k
							  WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.confrelid <> c.oid
								AND NOT EXISTS (SELECT FROM pg_dist_partition d
												WHERE d.logicalrelid = k.confrelid))
			ORDER BY c.relname
		LOOP
			PERFORM create_distributed_table(t, 'shop_id', colocate_with => 'order_mgmt.shop');
			n := n + 1;
		END LOOP;
		EXIT WHEN n = 0;
		done := done + n;
	END LOOP;
	-- the tables without a shop (status labels) on every node
	FOR t IN
		SELECT c.oid FROM pg_catalog.pg_class c
		WHERE c.relnamespace = 'order_mgmt'::regnamespace AND c.relkind = 'r'
		  AND NOT EXISTS (SELECT FROM pg_dist_partition d WHERE d.logicalrelid = c.oid)
		ORDER BY c.relname
	LOOP
		IF EXISTS (SELECT FROM pg_catalog.pg_attribute a
				   WHERE a.attrelid = t AND a.attname = 'shop_id' AND NOT a.attisdropped) THEN
			RAISE EXCEPTION 'cannot distribute table %: its foreign keys form a cycle', t
				USING ERRCODE = 'object_not_in_prerequisite_state',
					DETAIL = 'A shop table is distributed after the tables it references.',
					HINT = 'Report this as a bug of order_mgmt.';
		END IF;
		PERFORM create_reference_table(t);
		done := done + 1;
	END LOOP;
	-- every function whose first argument is shop_id: each call runs on the
	-- node holding that shop's shards
	FOR f IN
		SELECT p.oid FROM pg_catalog.pg_proc p
		WHERE p.pronamespace = 'order_mgmt'::regnamespace AND p.pronargs > 0
		  AND p.proargtypes[0] = 'bigint'::regtype AND p.proargnames[1] = 'shop_id'
		  AND NOT EXISTS (SELECT FROM pg_dist_object o
						  WHERE o.classid = 'pg_proc'::regclass AND o.objid = p.oid
							AND o.distribution_argument_index = 0)
		ORDER BY p.oid
	LOOP
		PERFORM create_distributed_function(f, '$1'::text, colocate_with => 'order_mgmt.shop'::text);
		done := done + 1;
	END LOOP;
	-- every node takes ids (order_id, event_id, ...) from a range of its
	-- own, as Citus does for the sequences of distributed tables: a call
	-- not delegated to the shop's worker takes them on the coordinator
	done := done + order_mgmt.claim_id_range();
	FOR r IN SELECT * FROM run_command_on_workers('SELECT order_mgmt.claim_id_range()') LOOP
		IF NOT r.success THEN
			RAISE EXCEPTION 'cannot claim an id range on worker %:%', r.nodename, r.nodeport
				USING ERRCODE = 'object_not_in_prerequisite_state',
					DETAIL = r.result,
					HINT = 'Check that order_mgmt is installed on the worker, then run order_mgmt.distribute() again.';
		END IF;
		done := done + r.result::integer;
	END LOOP;
	RETURN done;
END
$$;
COMMENT ON FUNCTION order_mgmt.distribute() IS
	'On a Citus coordinator: distributes every shop table by shop_id co-located with shop, the others as reference tables, and every function taking shop_id first by it, and gives every node its own id range (claim_id_range); idempotent; returns how many objects it distributed or moved';

-- order_mgmt.move_shop(): moves the shard group holding a shop to another
-- worker and rebases the outbox of every shop in it there (docs/citus.md,
-- "Moving shops").  Its first argument is not named shop_id, which would
-- make distribute() delegate it to the shop's worker: it runs on the
-- coordinator.
CREATE FUNCTION order_mgmt.rebased_snapshot(snapshot pg_catalog.pg_snapshot, los pg_catalog.xid8[], ns bigint[])
	RETURNS pg_catalog.pg_snapshot
	LANGUAGE sql IMMUTABLE
	SET search_path = pg_catalog, order_mgmt, pg_temp
AS $$
	SELECT CASE WHEN snapshot IS NOT NULL THEN
		pg_catalog.format('%s:%s:%s', coalesce(min(x.n) FILTER (WHERE NOT x.seen AND x.n < x.xmax), min(x.xmax), 1),
						  coalesce(min(x.xmax), 1),
						  coalesce(pg_catalog.string_agg(x.n::text, ',' ORDER BY x.n) FILTER (WHERE NOT x.seen AND x.n < x.xmax), ''))::pg_catalog.pg_snapshot
	END
	FROM (SELECT g.n, g.seen, coalesce(max(g.n) FILTER (WHERE g.seen) OVER (), 0) + 1 AS xmax
		  FROM (SELECT u.n, pg_catalog.pg_visible_in_snapshot(u.lo, snapshot) AS seen
				FROM ROWS FROM (pg_catalog.unnest(los), pg_catalog.unnest(ns)) AS u(lo, n)) g) x
$$;
COMMENT ON FUNCTION order_mgmt.rebased_snapshot(pg_catalog.pg_snapshot, pg_catalog.xid8[], bigint[]) IS
	'For move_shop(): a consumer snapshot of the old node as a snapshot of the rebased log, in which the events of the transactions starting at los[i] became transaction ns[i]: it sees a group if the old one saw its transactions, and none of the new node''s';
REVOKE ALL ON FUNCTION order_mgmt.rebased_snapshot(pg_catalog.pg_snapshot, pg_catalog.xid8[], bigint[]) FROM PUBLIC;

CREATE FUNCTION order_mgmt.move_shop(shop bigint, target_node_name text, target_node_port integer)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, order_mgmt, pg_temp
AS $$
DECLARE
	shard bigint;
	source record;
	target_group integer;
	target_xmin bigint;
	s bigint;
	g record;
	c record;
	los xid8[];
	ns bigint[];
	moved bigint := 0;
	n bigint;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'cannot move shop %: citus is not installed in this database', shop
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'On a single node every shop is on that node; nothing needs moving.';
	END IF;
	IF NOT pg_catalog.citus_is_coordinator() THEN
		RAISE EXCEPTION 'cannot move shop % from a worker node', shop
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'Connect to the coordinator and run order_mgmt.move_shop() there.';
	END IF;
	IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
		RAISE EXCEPTION 'permission denied to move shop %', shop
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = 'Moving a shard and rebasing its event log takes a superuser.';
	END IF;
	IF shop IS NULL OR target_node_name IS NULL OR target_node_port IS NULL THEN
		RAISE EXCEPTION 'shop, target_node_name and target_node_port must not be null'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_dist_partition d WHERE d.logicalrelid = 'order_mgmt.shop'::regclass) THEN
		RAISE EXCEPTION 'cannot move shop %: order_mgmt is not distributed', shop
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'Run SELECT order_mgmt.distribute() first.';
	END IF;
	SELECT d.groupid INTO target_group FROM pg_dist_node d
	WHERE d.nodename = target_node_name AND d.nodeport = target_node_port
	  AND d.isactive AND d.shouldhaveshards AND d.noderole = 'primary' AND d.groupid <> 0;
	IF target_group IS NULL THEN
		RAISE EXCEPTION 'node %:% is not an active worker that may hold shards', target_node_name, target_node_port
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = (SELECT 'The workers are: ' || coalesce(string_agg(d.nodename || ':' || d.nodeport, ', ' ORDER BY d.nodename, d.nodeport), 'none') || '.'
						  FROM pg_dist_node d WHERE d.isactive AND d.shouldhaveshards AND d.noderole = 'primary' AND d.groupid <> 0),
				HINT = 'Name a worker as pg_dist_node lists it.';
	END IF;
	-- (a statement routed to the shop's shard, as every read of one shop)
	EXECUTE format('SELECT count(*) FROM order_mgmt.shop WHERE shop_id = %s', shop) INTO n;
	IF n = 0 THEN
		RAISE EXCEPTION 'shop % does not exist', shop
			USING ERRCODE = 'OM014',
				HINT = 'Create it with order_mgmt.create_shop().';
	END IF;
	shard := get_shard_id_for_distribution_column('order_mgmt.shop', shop);
	SELECT d.nodename, d.nodeport, d.groupid INTO source
	FROM pg_dist_placement p JOIN pg_dist_node d ON d.groupid = p.groupid
	WHERE p.shardid = shard;
	IF source.groupid = target_group THEN
		RAISE NOTICE 'shop % is on %:% already', shop, target_node_name, target_node_port
			USING DETAIL = 'Nothing was moved or rebased.';
		RETURN 0;
	END IF;

	-- block_writes: writes to every shop of the shard group wait until this
	-- transaction ends (the copy is committed on the target by Citus, the
	-- placement changes with this transaction), so no event is written
	-- between the copy and the rebase
	PERFORM citus_move_shard_placement(shard, source.nodename, source.nodeport,
									   target_node_name, target_node_port,
									   shard_transfer_mode => 'block_writes');

	-- the target's oldest running transaction: the rebased events must sort
	-- below it, and below every transaction it hands out later
	EXECUTE format('SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text::bigint'
				   ' FROM order_mgmt.shop WHERE shop_id = %s', shop) INTO target_xmin;
	-- the rebase runs on the target, over this transaction's connection to
	-- it, without the event log's append-only trigger: a statement routed
	-- there sets session_replication_role for the rest of the transaction
	-- (Citus does not send a function's SET LOCAL to the workers)
	EXECUTE format('SELECT pg_catalog.set_config(''session_replication_role'', ''replica'', true)'
				   ' FROM order_mgmt.shop WHERE shop_id = %s', shop);

	FOR s IN
		SELECT x.shop_id FROM order_mgmt.shop x
		WHERE get_shard_id_for_distribution_column('order_mgmt.shop', x.shop_id) = shard
		ORDER BY x.shop_id
	LOOP
		-- the shop's transactions in (xid, event_id) order, in groups that
		-- each get one new transaction id 1, 2, ...: a group ends where the
		-- next transaction has an event older than the group's (events_since
		-- order stays) or a consumer's snapshot sees it otherwise
		EXECUTE format($q$
			WITH e AS (
				SELECT e.xid, e.event_id,
					   max(e.event_id) OVER (ORDER BY e.xid, e.event_id
											 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before,
					   (SELECT array_agg(pg_catalog.pg_visible_in_snapshot(e.xid, c.snapshot)
										 ORDER BY c.consumer)
							   || array_agg(coalesce(pg_catalog.pg_visible_in_snapshot(e.xid, c.batch_snapshot), false)
											ORDER BY c.consumer)
						FROM order_mgmt.event_consumer c WHERE c.shop_id = %1$s) AS seen
				FROM order_mgmt.order_event e WHERE e.shop_id = %1$s),
			s AS (
				SELECT e.xid, e.event_id,
					   (e.xid IS DISTINCT FROM lag(e.xid) OVER w
						AND (e.before IS NULL OR e.event_id < e.before
							 OR e.seen IS DISTINCT FROM lag(e.seen) OVER w))::integer AS starts
				FROM e WINDOW w AS (ORDER BY e.xid, e.event_id)),
			n AS (SELECT s.xid, sum(s.starts) OVER (ORDER BY s.xid, s.event_id) AS n FROM s)
			SELECT pg_catalog.array_agg(lo ORDER BY n), pg_catalog.array_agg(n ORDER BY n)
			FROM (SELECT min(n.xid) AS lo, n.n FROM n GROUP BY n.n) g$q$, s)
			INTO los, ns;
		n := coalesce(pg_catalog.array_length(ns, 1), 0);
		IF n >= target_xmin THEN
			RAISE EXCEPTION 'cannot move shop %: the event log of shop % needs % transaction ids below the target''s oldest, %',
				shop, s, n, target_xmin
				USING ERRCODE = 'object_not_in_prerequisite_state',
					DETAIL = 'Its events are rebased to transaction ids 1 .. n on the target, which must all be older than the target''s transactions.',
					HINT = 'Let the target run that many more transactions, or drain the shop''s consumers first (fewer groups), then move again.';
		END IF;
		IF n = 0 THEN
			CONTINUE;
		END IF;
		-- every event of a group to the group's number: groups ascend and
		-- their numbers are at most their first transaction id, so no event
		-- is moved twice
		EXECUTE format($q$
			UPDATE order_mgmt.order_event e SET xid = g.n::text::xid8
			FROM ROWS FROM (pg_catalog.unnest(%2$L::xid8[]),
							pg_catalog.unnest(%3$L::xid8[]),
							pg_catalog.unnest(%4$L::bigint[])) AS g(lo, hi, n)
			WHERE e.shop_id = %1$s AND e.xid >= g.lo AND e.xid < g.hi$q$,
			s, los, los[2:] || '18446744073709551615'::xid8, ns);
		GET DIAGNOSTICS n = ROW_COUNT;
		moved := moved + n;
		-- each consumer's positions: a group is delivered if the old snapshot
		-- saw its transactions; the new snapshot sees exactly those groups and
		-- nothing the target runs (its xmax is below the target's ids)
		FOR c IN EXECUTE format('SELECT c.consumer, c.snapshot, c.batch_snapshot FROM order_mgmt.event_consumer c'
								' WHERE c.shop_id = %s', s)
		LOOP
			EXECUTE format('UPDATE order_mgmt.event_consumer SET snapshot = %L, batch_snapshot = %L'
						   ' WHERE shop_id = %s AND consumer = %L',
						   order_mgmt.rebased_snapshot(c.snapshot, los, ns),
						   order_mgmt.rebased_snapshot(c.batch_snapshot, los, ns), s, c.consumer);
		END LOOP;
	END LOOP;
	EXECUTE format('SELECT pg_catalog.set_config(''session_replication_role'', ''origin'', true)'
				   ' FROM order_mgmt.shop WHERE shop_id = %s', shop);
	RETURN moved;
END
$$;
COMMENT ON FUNCTION order_mgmt.move_shop(bigint, text, integer) IS
	'On a Citus coordinator (superuser): moves the shard group holding the shop to the worker target_node_name:target_node_port (citus_move_shard_placement, block_writes) and rebases the event log and consumer positions of every shop in it to transaction ids below the target''s, keeping what each consumer has been delivered and the events_since order; a shop already there moves nothing; returns how many events it rebased';
REVOKE ALL ON FUNCTION order_mgmt.move_shop(bigint, text, integer) FROM PUBLIC;
