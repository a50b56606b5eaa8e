
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
