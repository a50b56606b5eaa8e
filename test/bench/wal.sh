#!/usr/bin/env bash
# WAL bytes per one-line checkout (issue 21), inside bench.sh's cluster (the
# PG* environment): order_mgmt's checkout() against the minimal floor, one
# SQL statement writing only the rows a one-line checkout needs (the order,
# one line, one reservation, one event, the stock update) into tables with
# primary keys only.  Deterministic, unlike the timings: one client, N
# checkouts after a warm-up and a CHECKPOINT (so full-page writes count as
# on a real server), pg_current_wal_insert_lsn() before and after.  Then
# order_mgmt's WAL per relation (pg_walinspect; a record is counted for the
# relation of its first block).
#   test/bench/wal.sh [N]      (default 2000; the warm-up is N/4)
set -uo pipefail
n=${1:-2000}
warm=$((n / 4))
db=order_mgmt_wal
dropdb --if-exists "$db" >/dev/null && createdb "$db" || exit 1
run() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }

run -v needed_sql="$(cd "$(dirname "$0")" && pwd)/needed_floor.sql" <<'SQL' || exit 1
CREATE EXTENSION order_mgmt;
CREATE EXTENSION pg_walinspect;
SELECT order_mgmt.create_shop(1, 'WAL shop');
UPDATE order_mgmt.shop SET payment_timeout = '7 days';
INSERT INTO order_mgmt.sku (shop_id, sku, price, created_at, updated_at)
SELECT 1, g::text, 100, now(), now() FROM generate_series(1, 2000) g;
INSERT INTO order_mgmt.stock (shop_id, sku, bucket, on_hand)
SELECT 1, sku, 0, 1000000000 FROM order_mgmt.sku WHERE shop_id = 1;

-- the minimal floor: the rows a one-line checkout needs, primary keys only
CREATE SCHEMA floor;
CREATE SEQUENCE floor.ids;
CREATE TABLE floor.orders (shop_id bigint, order_id bigint, status text, payment_status text,
	total numeric, created_at timestamptz, PRIMARY KEY (shop_id, order_id));
CREATE TABLE floor.line (shop_id bigint, order_id bigint, line_no int, sku text, qty int,
	unit_price numeric, PRIMARY KEY (shop_id, order_id, line_no));
CREATE TABLE floor.reservation (shop_id bigint, reservation_id bigint, order_id bigint, sku text,
	qty int, state text, PRIMARY KEY (shop_id, reservation_id));
CREATE TABLE floor.event (shop_id bigint, event_id bigint, order_id bigint, kind text,
	at timestamptz, detail jsonb, PRIMARY KEY (shop_id, event_id));
CREATE TABLE floor.stock (shop_id bigint, sku text, on_hand int, reserved int,
	PRIMARY KEY (shop_id, sku));
INSERT INTO floor.stock SELECT 1, g::text, 1000000000, 0 FROM generate_series(1, 2000) g;

-- the needed floor (needed_floor.sql): the minimal floor with the indexes
-- the SQL contract and the reports need; what is left of order_mgmt's
-- cost above it is its own
\i :needed_sql
CREATE TABLE needed.reservation (LIKE floor.reservation INCLUDING ALL);
CREATE TABLE needed.stock (LIKE floor.stock INCLUDING ALL);
INSERT INTO needed.stock SELECT * FROM floor.stock;
SQL

cat >"/tmp/wal_om.$$.sql" <<'SQL'
\set sku random(1, 2000)
SELECT order_mgmt.checkout(1, jsonb_build_array(jsonb_build_object('sku', (:sku)::text, 'qty', 1)));
SQL
cat >"/tmp/wal_floor.$$.sql" <<'SQL'
\set sku random(1, 2000)
WITH s AS (UPDATE floor.stock SET reserved = reserved + 1
           WHERE shop_id = 1 AND sku = (:sku)::text AND on_hand - reserved >= 1 RETURNING sku),
     o AS (INSERT INTO floor.orders SELECT 1, nextval('floor.ids'), 'pending', 'unpaid', 100, now() FROM s
           RETURNING order_id),
     l AS (INSERT INTO floor.line SELECT 1, o.order_id, 1, (:sku)::text, 1, 100 FROM o),
     r AS (INSERT INTO floor.reservation SELECT 1, nextval('floor.ids'), o.order_id, (:sku)::text, 1, 'held' FROM o),
     e AS (INSERT INTO floor.event SELECT 1, nextval('floor.ids'), o.order_id, 'checkout', now(),
           jsonb_build_object('lines', jsonb_build_array(jsonb_build_object('sku', (:sku)::text, 'qty', 1)))
           FROM o)
SELECT order_id FROM o;
SQL
cat >"/tmp/wal_needed.$$.sql" <<'SQL'
\set sku random(1, 2000)
WITH s AS (UPDATE needed.stock SET reserved = reserved + 1
           WHERE shop_id = 1 AND sku = (:sku)::text AND on_hand - reserved >= 1 RETURNING sku),
     i AS (SELECT nextval('floor.ids') AS order_id FROM s),
     o AS (INSERT INTO needed.orders SELECT 1, i.order_id, i.order_id::text, 'pending', 'unpaid', 'pending',
           100, 0, 0, NULL, false, now() + interval '7 days', now() FROM i RETURNING order_id),
     l AS (INSERT INTO needed.line SELECT 1, o.order_id, 1, (:sku)::text, 1, 100, 0, now() FROM o),
     r AS (INSERT INTO needed.reservation SELECT 1, nextval('floor.ids'), o.order_id, (:sku)::text, 1, 'held' FROM o),
     e AS (INSERT INTO needed.event SELECT 1, nextval('floor.ids'), o.order_id, 'checkout', now(),
           jsonb_build_object('lines', jsonb_build_array(jsonb_build_object('sku', (:sku)::text, 'qty', 1, 'unit_price', 100)),
                              'holds', jsonb_build_array(jsonb_build_object('sku', (:sku)::text, 'bucket', 0, 'qty', 1)),
                              'subtotal', 100.00, 'total', 100.00)
           FROM o)
SELECT order_id FROM o;
SQL
trap 'rm -f /tmp/wal_om.$$.sql /tmp/wal_floor.$$.sql /tmp/wal_needed.$$.sql' EXIT

measure() {			# name script: prints bytes per checkout; leaves the LSNs in /tmp
	pgbench -n -c 1 -t "$warm" -f "$2" "$db" >/dev/null 2>&1 || return 1
	local lsn0 lsn1
	lsn0=$(psql -X -At -d "$db" -c "CHECKPOINT" -c "SELECT pg_current_wal_insert_lsn()" | tail -1)
	pgbench -n -c 1 -t "$n" -f "$2" "$db" >/dev/null 2>&1 || return 1
	lsn1=$(psql -X -At -d "$db" -c "SELECT pg_current_wal_insert_lsn()")
	echo "$lsn0 $lsn1" >"/tmp/wal_$1.$$.lsn"
	psql -X -At -d "$db" -c "SELECT round(pg_wal_lsn_diff('$lsn1', '$lsn0') / $n)"
}

floor=$(measure floor "/tmp/wal_floor.$$.sql") || { echo "wal: the floor failed"; exit 1; }
needed=$(measure needed "/tmp/wal_needed.$$.sql") || { echo "wal: the needed floor failed"; exit 1; }
om=$(measure om "/tmp/wal_om.$$.sql") || { echo "wal: order_mgmt's checkout failed"; exit 1; }
read -r lsn0 lsn1 <"/tmp/wal_om.$$.lsn"
rm -f /tmp/wal_floor.$$.lsn /tmp/wal_om.$$.lsn /tmp/wal_needed.$$.lsn
printf "   WAL per one-line checkout (%d after a CHECKPOINT): minimal floor %s bytes, order_mgmt %s bytes (%.2fx)\n" \
	"$n" "$floor" "$om" "$(awk -v a="$om" -v b="$floor" 'BEGIN {print a / b}')"
printf "   the needed floor (the minimal floor with the indexes the contract and the reports need): %s bytes (%.2fx the minimal floor; order_mgmt %.2fx it)\n" \
	"$needed" "$(awk -v a="$needed" -v b="$floor" 'BEGIN {print a / b}')" "$(awk -v a="$om" -v b="$needed" 'BEGIN {print a / b}')"
echo "   order_mgmt's WAL by relation (bytes per checkout, the records' length with their full-page images):"
psql -X -At -F ' ' -d "$db" <<SQL | awk '{printf "     %-40s %7s\n", $1, $2}'
WITH r AS (
	SELECT record_length, (regexp_match(block_ref, 'rel \d+/\d+/(\d+)'))[1]::oid AS node
	FROM pg_get_wal_records_info('$lsn0', '$lsn1'))
SELECT coalesce(c.relname, CASE WHEN r.node IS NULL THEN '(no block: commit, ...)' ELSE 'relfilenode ' || r.node END),
	   round(sum(r.record_length)::numeric / $n)
FROM r LEFT JOIN pg_class c ON c.relfilenode = r.node
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 16;
SQL
# the run must leave order_mgmt consistent
rows=$(psql -X -At -d "$db" -c "SELECT count(*) FROM order_mgmt.verify()")
echo "   verify(): $rows rows"
[ "$rows" = 0 ]
