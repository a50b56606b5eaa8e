-- The extension installs, and every object it creates is documented.
CREATE EXTENSION order_mgmt;

-- the 45 moves of SPEC §3
SELECT count(*) FROM order_mgmt.transitions;
SELECT machine, count(*) FROM order_mgmt.transitions GROUP BY machine ORDER BY machine;

-- the seeded labels: 21 statuses in 5 locales
SELECT locale, count(*) FROM order_mgmt.status_label WHERE builtin GROUP BY locale ORDER BY locale;
SELECT label FROM order_mgmt.status_label
WHERE enum_type = 'delivery_status' AND value = 'shipping_overdue' ORDER BY locale;

-- every label value is a value of its enum
SELECT l.enum_type, l.value FROM order_mgmt.status_label l
WHERE NOT EXISTS (SELECT FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
				  WHERE t.typname = l.enum_type AND e.enumlabel = l.value);

-- COMMENT ON every table, view, column, function and type of the schema
SELECT c.relname, a.attname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'order_mgmt'
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'v')
  AND (obj_description(c.oid, 'pg_class') IS NULL
	   OR (a.attnum IS NOT NULL AND col_description(c.oid, a.attnum) IS NULL))
ORDER BY 1, 2;
SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'order_mgmt' AND obj_description(p.oid, 'pg_proc') IS NULL;
SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'order_mgmt' AND t.typtype = 'e' AND obj_description(t.oid, 'pg_type') IS NULL;

-- SECURITY DEFINER functions pin search_path (SPEC §17)
SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'order_mgmt' AND p.prosecdef
  AND NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, order_mgmt, pg_temp'];

-- the roles of SPEC §17
SELECT rolname FROM pg_roles WHERE rolname LIKE 'order_mgmt_%' ORDER BY 1;

-- the GUCs are reserved: a typo is an error, not a silent placeholder
-- (PostgreSQL 15+; 13 and 14 have no reserved prefixes: install_1.out)
SET order_mgmt.clokc = '2026-01-01';
\echo :LAST_ERROR_SQLSTATE

SELECT * FROM order_mgmt.verify();
