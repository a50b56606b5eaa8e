#!/usr/bin/env bash
# Checkout throughput (issue 6): order_mgmt.checkout() against the same
# writes done four other ways, with pgbench, and a table of the figures.
#
# Variants (every one writes the order row, its lines, the stock change,
# one reservation row per line, the payment deadline, one event and, for
# 20% of orders, the promo claim: code row + redemption row):
#   floor    the writes as one SQL statement (data-modifying CTEs), no checks
#            beyond the tables' constraints
#   plpgsql  test/bench/plpgsql_checkout.sql: checkout() in PL/pgSQL
#   app      the application-side pattern: BEGIN; SELECT ...; SELECT ... FOR
#            UPDATE; UPDATE; INSERT ...; COMMIT, one round trip each
#   om       order_mgmt.checkout()
#   commit   the commit floor: a one-row INSERT per transaction
# and, only when BENCH_VARIANTS names it (issue 21):
#   minimal  the minimal floor: per line a conditional stock UPDATE, one
#            line row and one reservation row, then the order row and one
#            event whose detail has the lines, as one SQL statement into
#            the schema minimal (checkout_setup.sql): tables with primary
#            keys only, one stock row per SKU (no buckets), no customer,
#            promo claim or payment deadline.  Its order ids come from
#            order_mgmt's sequence, so units are counted as for the others.
#   needed   the needed floor: minimal plus the columns and indexes the SQL
#            contract and the reports need beside primary keys (unique order
#            number, payment deadline, the reports' covering indexes, the
#            event log's order and outbox indexes) and the holds in the
#            event's detail; schema needed (checkout_setup.sql)
# Distributions of the SKUs: uniform over 10,000, zipfian (s = 1.1), hot
# (every order has the hot SKU 'H'); 1-3 distinct SKUs an order, one unit
# each, 20% with a promo code.  Units sold are counted in the database.
#
# Runs against the server in the PG* environment (bench.sh starts one), as
# a non-root user.  Knobs (environment):
#   BENCH_SECONDS=20 BENCH_RUNS=3 BENCH_WARMUP=5 BENCH_SEED=42
#   BENCH_SYNC="on off"              synchronous_commit passes (empty: none)
#   BENCH_VARIANTS="floor plpgsql app om"  (minimal, needed: also those floors)
#   BENCH_DISTS="uniform zipfian hot"
#   BENCH_CLIENTS="1 8 32"           the main matrix (every sync pass)
#   BENCH_OFF_DISTS, BENCH_OFF_CLIENTS  the matrix of the off pass
#                                    (default: uniform, 8)
#   BENCH_HOT_K="1 4 16 16q auto"    hot SKU buckets (q: admission queue; auto: no
#                                    stock_buckets, the shop's defaults, so
#                                    balance_buckets() spreads it, issue 21;
#                                    empty: none),
#   BENCH_HOT_CLIENTS="8 32 64"      om only, synchronous_commit on
#   BENCH_AUTO_RAMP=10               auto: seconds of checkouts before each
#                                    measured run, with balance_buckets(1)
#                                    called every second (as the sweeper
#                                    would) during both
#   BENCH_OUT=dir                    keep raw results and logs there
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
db=${BENCH_DB:-order_mgmt_bench}
secs=${BENCH_SECONDS:-20}
runs=${BENCH_RUNS:-3}
warm=${BENCH_WARMUP:-5}
seed=${BENCH_SEED:-42}
syncs=${BENCH_SYNC-on off}
variants=${BENCH_VARIANTS:-floor plpgsql app om}
dists=${BENCH_DISTS:-uniform zipfian hot}
clients=${BENCH_CLIENTS:-1 8 32}
off_dists=${BENCH_OFF_DISTS:-uniform}
off_clients=${BENCH_OFF_CLIENTS:-8}
hot_k=${BENCH_HOT_K-1 4 16 16q auto}
auto_ramp=${BENCH_AUTO_RAMP:-10}
hot_clients=${BENCH_HOT_CLIENTS:-8 32 64}
out=${BENCH_OUT:-$(mktemp -d /tmp/om-bench.XXXXXX)}
mkdir -p "$out/scripts" "$out/logs"
results=$out/results.tsv
: >"$results"

psql_q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "$@"; }

# ---------------------------------------------------------------- scripts
# the SKUs of an order: :s1 :s2 :s3, distinct; 'H' first for hot
pick() {			# dist -> \set lines
	local d=$1 gen
	case $d in
		uniform | hot) gen='random(1, 10000)' ;;
		zipfian) gen='random_zipfian(1, 10000, 1.1)' ;;
	esac
	cat <<EOF
\\set n random(1, 3)
\\set s1 $gen
\\set s2 $gen
\\set s2 CASE WHEN :s2 = :s1 THEN :s1 % 10000 + 1 ELSE :s2 END
\\set s3 $gen
\\set s3 CASE WHEN :s3 <> :s1 AND :s3 <> :s2 THEN :s3 WHEN :s1 % 10000 + 1 <> :s2 THEN :s1 % 10000 + 1 ELSE :s2 % 10000 + 1 END
\\set p random(1, 100)
\\set c random(1, 1000)
\\set b random(0, :k - 1)
EOF
}

code="CASE WHEN :p <= 20 THEN 'P' || :p::text END"	# as entered
key="CASE WHEN :p <= 20 THEN 'p' || :p::text END"	# normalize_code()

# one statement per line count: body n "sku-expr, ..."
by_lines() {			# dist function-name
	local d=$1 f=$2 one="'H'"
	[ "$d" = hot ] || one=':s1::text'
	echo '\if :n = 1'
	$f 1 "$one"
	echo '\elif :n = 2'
	$f 2 "$one, :s2::text"
	echo '\else'
	$f 3 "$one, :s2::text, :s3::text"
	echo '\endif'
}

jsonb_lines() {			# "a, b" -> jsonb_build_array(...)
	local IFS=, parts=() s
	for s in $1; do parts+=("jsonb_build_object('sku', ${s# }, 'qty', 1)"); done
	local joined
	joined=$(printf '%s, ' "${parts[@]}")
	echo "jsonb_build_array(${joined%, })"
}

om_body() {
	echo "SELECT order_mgmt.checkout(1, $(jsonb_lines "$2"), customer_id => :c::text, promo_code => $code);"
}

plpgsql_body() {
	echo "SELECT bench.checkout_plpgsql(1, $(jsonb_lines "$2"), :c::text, $code);"
}

# The floor: the same rows, one statement, no checks beyond constraints.
floor_body() {
	tr '\n' ' ' <<EOF
WITH l AS (SELECT k.sku, x.qty, k.price, row_number() OVER (ORDER BY k.sku COLLATE "C") AS n
  FROM (SELECT sku, count(*)::int AS qty FROM unnest(ARRAY[$2]) AS sku GROUP BY sku) x
  JOIN order_mgmt.sku k ON k.shop_id = 1 AND k.sku = x.sku),
 t AS (SELECT sum(price * qty) AS sub,
         CASE WHEN $code IS NULL THEN 0 ELSE round(sum(price * qty) * 0.1, 0) END AS disc FROM l),
 o AS (INSERT INTO order_mgmt.orders (shop_id, customer_id, email, payment_method, currency, subtotal,
         discount, total, promo_code, promo_key, payment_due_at, created_at)
       SELECT 1, c.customer_id, c.email, 'credit_card', 'TWD', t.sub, t.disc, t.sub - t.disc,
         $code, $key, now() + interval '7 days', now()
       FROM t, order_mgmt.customer c WHERE c.shop_id = 1 AND c.customer_id = :c::text
       RETURNING order_id, created_at, subtotal, discount, total),
 ol AS (INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price, ordered_at)
       SELECT 1, o.order_id, l.n, l.sku, l.qty, l.price, o.created_at FROM o, l),
 s AS (UPDATE order_mgmt.stock s SET reserved = s.reserved + l.qty FROM l
       WHERE s.shop_id = 1 AND s.sku = l.sku AND s.bucket = CASE WHEN l.sku = 'H' THEN :b ELSE 0 END
       RETURNING s.sku, s.bucket, l.qty),
 r AS (INSERT INTO order_mgmt.reservation (shop_id, order_id, sku, bucket, qty, created_at)
       SELECT 1, o.order_id, s.sku, s.bucket, s.qty, o.created_at FROM o, s),
 pc AS (UPDATE order_mgmt.promo_code SET used = used + 1
       WHERE shop_id = 1 AND code_key = $key AND EXISTS (SELECT FROM o)),
 pr AS (INSERT INTO order_mgmt.promo_redemption (shop_id, code_key, order_id, customer_id, state, limited,
         claimed_at)
       SELECT 1, $key, o.order_id, :c::text, 'active', true, o.created_at FROM o WHERE $key IS NOT NULL)
INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, detail)
SELECT 1, o.order_id, o.created_at, current_user, 'checkout',
  jsonb_build_object('lines', (SELECT jsonb_agg(jsonb_build_object('sku', sku, 'qty', qty, 'unit_price', price))
                               FROM l),
    'holds', (SELECT jsonb_agg(jsonb_build_object('sku', sku, 'bucket', s.bucket, 'qty', qty)) FROM s),
    'subtotal', o.subtotal, 'discount', o.discount, 'total', o.total, 'promo', $key)
FROM o;
EOF
	echo
}

# The minimal floor (issue 21): the rows the checkout of these lines needs,
# in tables with primary keys only; no order without every line's stock.
minimal_body() {
	tr '\n' ' ' <<EOF
WITH x AS (SELECT sku, count(*)::int AS qty FROM unnest(ARRAY[$2]) AS sku GROUP BY sku),
 s AS (UPDATE minimal.stock s SET reserved = s.reserved + x.qty FROM x
       WHERE s.shop_id = 1 AND s.sku = x.sku AND s.on_hand - s.reserved >= x.qty
       RETURNING s.sku, s.price, x.qty),
 o AS (INSERT INTO minimal.orders
       SELECT 1, nextval('order_mgmt.order_id_seq'), 'pending', 'unpaid', sum(price * qty), now()
       FROM s HAVING count(*) = $1
       RETURNING order_id, created_at),
 l AS (INSERT INTO minimal.line
       SELECT 1, o.order_id, row_number() OVER (ORDER BY s.sku COLLATE "C"), s.sku, s.qty, s.price FROM o, s),
 r AS (INSERT INTO minimal.reservation SELECT 1, nextval('minimal.ids'), o.order_id, s.sku, s.qty, 'held' FROM o, s)
INSERT INTO minimal.event
SELECT 1, nextval('minimal.ids'), o.order_id, 'checkout', o.created_at,
  jsonb_build_object('lines', (SELECT jsonb_agg(jsonb_build_object('sku', sku, 'qty', qty, 'unit_price', price)) FROM s))
FROM o;
EOF
	echo
}

# The needed floor (issue 21): the minimal floor with the indexes and
# columns the SQL contract and the reports need (checkout_setup.sql).
needed_body() {
	tr '\n' ' ' <<EOF
WITH x AS (SELECT sku, count(*)::int AS qty FROM unnest(ARRAY[$2]) AS sku GROUP BY sku),
 s AS (UPDATE needed.stock s SET reserved = s.reserved + x.qty FROM x
       WHERE s.shop_id = 1 AND s.sku = x.sku AND s.on_hand - s.reserved >= x.qty
       RETURNING s.sku, s.price, x.qty),
 i AS (SELECT nextval('order_mgmt.order_id_seq') AS order_id, sum(price * qty) AS total
       FROM s HAVING count(*) = $1),
 o AS (INSERT INTO needed.orders
       SELECT 1, i.order_id, i.order_id::text, 'pending', 'unpaid', 'pending', i.total, 0, 0, NULL, false,
         now() + interval '7 days', now() FROM i
       RETURNING order_id, created_at, total),
 l AS (INSERT INTO needed.line
       SELECT 1, o.order_id, row_number() OVER (ORDER BY s.sku COLLATE "C"), s.sku, s.qty, s.price, 0, o.created_at
       FROM o, s),
 r AS (INSERT INTO needed.reservation SELECT 1, nextval('minimal.ids'), o.order_id, s.sku, s.qty, 'held' FROM o, s)
INSERT INTO needed.event
SELECT 1, nextval('minimal.ids'), o.order_id, 'checkout', o.created_at,
  jsonb_build_object('lines', (SELECT jsonb_agg(jsonb_build_object('sku', sku, 'qty', qty, 'unit_price', price)) FROM s),
                     'holds', (SELECT jsonb_agg(jsonb_build_object('sku', sku, 'bucket', 0, 'qty', qty)) FROM s),
                     'subtotal', o.total, 'total', o.total)
FROM o;
EOF
	echo
}

# The application-side pattern: a round trip per statement.
app_body() {
	local skus="ARRAY[$2]"
	cat <<EOF
BEGIN;
SELECT sum(price) AS sub, count(*) AS found FROM order_mgmt.sku WHERE shop_id = 1 AND sku = ANY ($skus)
\\gset
SELECT email FROM order_mgmt.customer WHERE shop_id = 1 AND customer_id = :c::text
\\gset
\\if :p <= 20
SELECT used, usage_limit FROM order_mgmt.promo_code WHERE shop_id = 1 AND code_key = 'p' || :p::text FOR UPDATE
\\gset
\\endif
SELECT min(avail) AS avail FROM (SELECT on_hand - reserved AS avail FROM order_mgmt.stock WHERE shop_id = 1 AND sku = ANY ($skus) AND bucket = CASE WHEN sku = 'H' THEN :b ELSE 0 END ORDER BY sku FOR UPDATE) x
\\gset
UPDATE order_mgmt.stock SET reserved = reserved + 1 WHERE shop_id = 1 AND sku = ANY ($skus) AND bucket = CASE WHEN sku = 'H' THEN :b ELSE 0 END;
INSERT INTO order_mgmt.orders (shop_id, customer_id, email, payment_method, currency, subtotal, discount, total, promo_code, promo_key, payment_due_at, created_at) VALUES (1, :c::text, :email::text, 'credit_card', 'TWD', :sub::numeric, CASE WHEN :p <= 20 THEN round(:sub::numeric * 0.1, 0) ELSE 0 END, :sub::numeric - CASE WHEN :p <= 20 THEN round(:sub::numeric * 0.1, 0) ELSE 0 END, $code, $key, now() + interval '7 days', now()) RETURNING order_id
\\gset
INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price, ordered_at) SELECT 1, :order_id::bigint, row_number() OVER (ORDER BY sku COLLATE "C"), sku, 1, price, now() FROM order_mgmt.sku WHERE shop_id = 1 AND sku = ANY ($skus);
INSERT INTO order_mgmt.reservation (shop_id, order_id, sku, bucket, qty, created_at) SELECT 1, :order_id::bigint, sku, CASE WHEN sku = 'H' THEN :b ELSE 0 END, 1, now() FROM unnest($skus) sku;
\\if :p <= 20
UPDATE order_mgmt.promo_code SET used = used + 1 WHERE shop_id = 1 AND code_key = 'p' || :p::text;
INSERT INTO order_mgmt.promo_redemption (shop_id, code_key, order_id, customer_id, state, limited, claimed_at) VALUES (1, 'p' || :p::text, :order_id::bigint, :c::text, 'active', true, now());
\\endif
INSERT INTO order_mgmt.order_event (shop_id, order_id, at, actor, kind, detail) VALUES (1, :order_id::bigint, now(), current_user, 'checkout', jsonb_build_object('lines', $skus, 'subtotal', :sub::numeric, 'promo', $key));
COMMIT;
EOF
}

gen_script() {			# variant dist -> file
	local v=$1 d=$2 f=$out/scripts/$1-$2.sql
	if [ "$v" = commit ]; then
		echo 'INSERT INTO bench.commit_floor DEFAULT VALUES;' >"$f"
	else
		{ pick "$d"; by_lines "$d" "${v}_body"; } >"$f"
	fi
	echo "$f"
}

# ---------------------------------------------------------------- running
# one pgbench run; appends a row to results.tsv:
# sync variant dist k clients run units orders seconds p50_ms p99_ms
run_one() {			# sync variant dist k clients run seconds
	local sync=$1 v=$2 d=$3 k=$4 c=$5 r=$6 t=$7 kk=${4%q} script before sold threads log bal=
	[ "$k" = auto ] && kk=1
	script=$(gen_script "$v" "$d")
	threads=$((c < 2 ? 1 : 2))
	log=$out/logs/$sync-$v-$d-$k-$c-$r
	rm -rf "$log"
	mkdir -p "$log"
	local rc=0
	if [ "$k" = auto ]; then
		# the sweeper's part: balance_buckets() every second; a ramp first
		( while :; do psql_q -c "SELECT order_mgmt.balance_buckets(1)" >/dev/null; sleep 1; done ) &
		bal=$!
		PGOPTIONS="-c synchronous_commit=$sync" pgbench -n -M prepared --random-seed="$((seed + r))" \
			-c "$c" -j "$threads" -T "$auto_ramp" -D k="$kk" --max-tries=100 \
			-f "$script" "$db" >"$log/ramp.out" 2>&1 || rc=$?
	fi
	before=$(psql_q -c "SELECT bench.last_order()")
	[ "$rc" -eq 0 ] && { PGOPTIONS="-c synchronous_commit=$sync" pgbench -n -M prepared --random-seed="$((seed + r))" \
		-c "$c" -j "$threads" -T "$t" -D k="$kk" --max-tries=100 -l --log-prefix="$log/tx" \
		-f "$script" "$db" >"$log/pgbench.out" 2>&1 || rc=$?; }
	if [ -n "$bal" ]; then
		kill "$bal" 2>/dev/null || true
		wait "$bal" 2>/dev/null || true
		echo "  auto: H has $(psql_q -c "SELECT coalesce(auto_buckets, 1) FROM order_mgmt.sku WHERE shop_id = 1 AND sku = 'H'") buckets"
	fi
	# every transaction must commit (deadlocks and serialization failures
	# are retried; anything else is a bug in a variant)
	if [ "$rc" -ne 0 ] || ! grep -q 'number of failed transactions: 0 ' "$log/pgbench.out"; then
		cat "$log/pgbench.out" >&2
		echo "checkout bench: FAILED ($v $d k=$k c=$c: pgbench exit $rc)" >&2
		exit 1
	fi
	if [ "$v" = commit ]; then
		sold=$(grep -oE 'number of transactions actually processed: [0-9]+' "$log/pgbench.out" |
			   awk '{print $NF, $NF}')
	else
		sold=$(psql_q -F ' ' -c "SELECT units, orders FROM bench.sold_since($before)")
	fi
	# latency percentiles from the per-transaction logs (µs in column 3)
	local lat
	lat=$(cat "$log"/tx* | awk '{print $3}' | sort -n |
		awk '{a[NR] = $1} END {if (NR == 0) {print "- -"; exit}
			 i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1;
			 printf "%.2f %.2f\n", a[i50] / 1000, a[i99] / 1000}')
	rm -f "$log"/tx*
	[ "$r" -eq 0 ] && return		# warm-up
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sync" "$v" "$d" "$k" "$c" "$r" \
		"${sold% *}" "${sold#* }" "$t" "${lat// /	}" >>"$results"
	printf '  %-3s %-8s %-8s k=%-4s c=%-3s run %s: %s units %s orders in %ss, p50 %s p99 %s ms\n' \
		"$sync" "$v" "$d" "$k" "$c" "$r" "${sold% *}" "${sold#* }" "$t" "${lat% *}" "${lat#* }"
}

set_hot() {			# k, e.g. 16 or 16q, or auto
	local k=${1%q} q=false
	[ "$1" != "$k" ] && q=true
	[ "$k" = auto ] && k=NULL
	psql_q -c "SELECT bench.set_hot($k, $q)" >/dev/null
}

echo "== checkout bench: set-up"
dropdb --if-exists "$db" >/dev/null
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$here/checkout_setup.sql" >/dev/null
psql_q -c "SELECT 'server ' || current_setting('server_version') || ', shared_buffers ' || current_setting('shared_buffers')
	|| ', fsync ' || current_setting('fsync') || ', max_connections ' || current_setting('max_connections')"

for sync in $syncs; do
	ds=$dists cs=$clients
	if [ "$sync" = off ]; then ds=$off_dists cs=$off_clients; fi
	set_hot 1
	if [ "$warm" -gt 0 ]; then
		echo "== warm-up (synchronous_commit $sync)"
		for d in $ds; do
			for v in $variants; do
				run_one "$sync" "$v" "$d" 1 8 0 "$warm"
			done
		done
	fi
	echo "== synchronous_commit $sync: ${runs} runs of ${secs}s, variants alternating"
	for c in $cs; do
		for d in $ds; do
			for r in $(seq 1 "$runs"); do
				for v in $variants; do
					run_one "$sync" "$v" "$d" 1 "$c" "$r" "$secs"
				done
			done
		done
		for r in $(seq 1 "$runs"); do
			run_one "$sync" commit - 1 "$c" "$r" "$secs"
		done
	done
done

if [ -n "$hot_k" ]; then
	echo "== hot SKU: om, synchronous_commit on"
	for c in $hot_clients; do
		for r in $(seq 1 "$runs"); do
			for k in $hot_k; do
				set_hot "$k"
				run_one on om hot "$k" "$c" "$r" "$secs"
			done
			run_one on commit - 1 "$c" "$r" "$secs"
		done
	done
	set_hot 1
fi

# ---------------------------------------------------------------- table
echo
echo "== verify"
bad=$(psql_q -c "SELECT count(*) FROM order_mgmt.verify()")
over=$(psql_q -c "SELECT count(*) FROM order_mgmt.stock WHERE NOT backorder AND reserved > on_hand")
# the minimal floor's own books: no stock row oversold, every unit held on a line
over=$((over + $(psql_q -c "SELECT count(*) FILTER (WHERE reserved > on_hand)
	+ CASE WHEN sum(reserved) = (SELECT coalesce(sum(qty), 0) FROM minimal.line) THEN 0 ELSE 1 END
	FROM minimal.stock")))
over=$((over + $(psql_q -c "SELECT count(*) FILTER (WHERE reserved > on_hand)
	+ CASE WHEN sum(reserved) = (SELECT coalesce(sum(qty), 0) FROM needed.line) THEN 0 ELSE 1 END
	FROM needed.stock")))
echo "verify() rows: $bad, oversold stock rows: $over"
echo
bash "$here/table.sh" "$results"
echo
echo "== for the README"
bash "$here/table.sh" "$results" --markdown
echo "(raw results: $results)"
[ "$bad" -eq 0 ] && [ "$over" -eq 0 ]
