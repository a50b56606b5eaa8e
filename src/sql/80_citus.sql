
-- ---------------------------------------------------------------------------
-- Citus (issue 16, docs/citus.md): order_mgmt.distribute() distributes the
-- schema on a Citus coordinator, once the workers are added.
-- ---------------------------------------------------------------------------
CREATE FUNCTION order_mgmt.distribute()
	RETURNS integer
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, order_mgmt, pg_temp
AS $$
DECLARE
	t regclass;
	f regprocedure;
	n integer;
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
	RETURN done;
END
$$;
COMMENT ON FUNCTION order_mgmt.distribute() IS
	'On a Citus coordinator: distributes every shop table by shop_id co-located with shop, the others as reference tables, and every function taking shop_id first by it; idempotent; returns how many objects it distributed';
