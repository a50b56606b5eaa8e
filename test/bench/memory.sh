#!/usr/bin/env bash
# Memory run (issue 6): one session calls checkout and cancel N times (in
# transactions of 1,000 calls) and compares its backend memory
# (pg_backend_memory_contexts) after a warm-up with the memory after the N
# calls.  Kept plans, caches and per-call memory must not grow with the
# number of calls: it fails if the backend grew by more than the limit.
# Runs against the server in the PG* environment (for example inside
# pg_virtualenv), as a non-root user.
#   test/bench/memory.sh [calls=1000000] [limit_kb=256]
set -euo pipefail
calls=${1:-1000000}
limit_kb=${2:-256}
db=${MEMORY_DB:-order_mgmt_memory}

dropdb --if-exists "$db" >/dev/null
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION order_mgmt;
CREATE SCHEMA mem;
SELECT order_mgmt.create_shop(1, 'Memory shop');
SELECT order_mgmt.upsert_sku(1, 'A', 100);
SELECT order_mgmt.upsert_sku(1, 'B', 250);
SELECT order_mgmt.set_stock(1, 'A', 1000);
SELECT order_mgmt.set_stock(1, 'B', 1000);
SELECT order_mgmt.create_promo(1, 'TEN', 'percent', 10);
-- checkout (two lines, a promo code on every other call) then cancel, so
-- the stock and the code come back and the loop can run for ever
CREATE PROCEDURE mem.run(n int) LANGUAGE plpgsql AS $$
DECLARE
	o bigint;
BEGIN
	FOR i IN 1..n LOOP
		o := order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]',
								 promo_code => CASE WHEN i % 2 = 0 THEN 'ten' END);
		PERFORM order_mgmt.cancel(1, o, 'changed_mind');
		IF i % 1000 = 0 THEN
			COMMIT;
		END IF;
	END LOOP;
END
$$;
CREATE FUNCTION mem.bytes() RETURNS bigint LANGUAGE sql AS
	'SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts';
SQL

out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" <<SQL
CALL mem.run(2000);
SELECT 'before', mem.bytes();
\\timing on
CALL mem.run($calls);
\\timing off
SELECT 'after', mem.bytes();
SELECT 'top', name, total_bytes FROM pg_backend_memory_contexts ORDER BY total_bytes DESC LIMIT 5;
SELECT 'verify', count(*) FROM order_mgmt.verify();
SQL
)
before=$(awk -F'|' '$1 == "before" {print $2}' <<<"$out")
after=$(awk -F'|' '$1 == "after" {print $2}' <<<"$out")
problems=$(awk -F'|' '$1 == "verify" {print $2}' <<<"$out")
grew_kb=$(( (after - before) / 1024 ))
echo "   $calls checkout+cancel calls: backend memory $before -> $after bytes (${grew_kb} kB)"
grep -E '^(Time|top)' <<<"$out" | sed 's/^/   /'
if [ "$grew_kb" -gt "$limit_kb" ] || [ "$problems" -ne 0 ]; then
	echo "memory: FAILED (grew ${grew_kb} kB, limit ${limit_kb} kB; $problems invariant violations)"
	exit 1
fi
echo "memory: ok (grew ${grew_kb} kB over $calls calls, limit ${limit_kb} kB)"
