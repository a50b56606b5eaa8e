#!/usr/bin/env bash
# Checkout throughput on Citus (issue 16, docs/citus.md "Figures"), as root:
# installs Citus like citus.sh, starts a coordinator and two workers with
# fsync on (cluster.sh, OM_CITUS_FSYNC=on) and, beside them, a single node
# without Citus, loads 8 shops of 1,000 SKUs on each, and runs pgbench
# (one-line checkouts of a random SKU of a random shop):
#   single node                 the plain server, the same data
#   coordinator, 2 workers      the 8 shops, spread over both workers
#   coordinator, 1 worker       only the shops on the first worker
#   worker directly             the first worker's shops, called on it
# BENCH_SECONDS (20), BENCH_CLIENTS (8), BENCH_RUNS (3); medians printed.
# usage: bash test/citus/bench.sh [PORT]        (PORT .. PORT+3; default 57700)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
install=${OM_CITUS_INSTALL:-$top/../shared/citus/install.sh}
port=${1:-57700}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bin=$("$PG_CONFIG" --bindir)
seconds=${BENCH_SECONDS:-20} clients=${BENCH_CLIENTS:-8} runs=${BENCH_RUNS:-3}
[ -f "$install" ] || { echo "citus bench: no $install"; exit 1; }
bash "$install" >/dev/null || exit 1
work=$(mktemp -d /tmp/order_mgmt-citus-bench.XXXXXX)
chown postgres: "$work"
cp "$top/test/citus/cluster.sh" "$work/"
as_pg() { (cd "$work" && runuser -u postgres -- env PG_CONFIG="$PG_CONFIG" "$@"); }
single=$((port + 3))
trap 'as_pg bash "$work/cluster.sh" stop "$work/c"; as_pg "$bin/pg_ctl" -D "$work/single" -m immediate stop >/dev/null 2>&1; rm -rf "$work"' EXIT
as_pg env OM_CITUS_FSYNC=on bash "$work/cluster.sh" start "$work/c" "$port" >/dev/null || { echo "citus bench: cluster failed"; exit 1; }
as_pg "$bin/initdb" -D "$work/single" -A trust -U postgres --no-sync >/dev/null
cat >>"$work/single/postgresql.conf" <<CONF
port = $single
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
max_connections = 120
shared_buffers = 128MB
CONF
as_pg "$bin/pg_ctl" -D "$work/single" -l "$work/single.log" -w start >/dev/null
as_pg "$bin/psql" -h "$work" -p "$single" -X -q -d postgres -c "CREATE DATABASE om"

psql_at() { as_pg "$bin/psql" -h "$1" -p "$2" -d om -X -q -v ON_ERROR_STOP=1 "${@:3}"; }
load='
SELECT order_mgmt.create_shop(s, $$Shop $$ || s) FROM generate_series(1, 8) s;
UPDATE order_mgmt.shop SET payment_timeout = $$7 days$$;
INSERT INTO order_mgmt.sku (shop_id, sku, price, created_at, updated_at)
SELECT s, g::text, 100 + g, now(), now() FROM generate_series(1, 8) s, generate_series(1, 1000) g;
INSERT INTO order_mgmt.stock (shop_id, sku, bucket, on_hand)
SELECT s, g::text, 0, 1000000000 FROM generate_series(1, 8) s, generate_series(1, 1000) g;'
psql_at "$work/c" "$port" -c "CREATE EXTENSION order_mgmt" -c "SELECT order_mgmt.distribute()" -c "$load" >/dev/null
psql_at "$work" "$single" -c "CREATE EXTENSION order_mgmt" -c "$load" >/dev/null
# the shops on the first worker
local1=$(psql_at "$work/c" "$port" -At -c "
	SELECT string_agg(s::text, ' ' ORDER BY s) FROM generate_series(1, 8) s
	JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('order_mgmt.shop', s)
	JOIN pg_dist_node n ON n.groupid = p.groupid WHERE n.nodeport = $((port + 1))")
read -r -a shops1 <<<"$local1"
script() {	# script FILE SHOP...
	{
		echo "\\set i random(0, $(($# - 2)))"
		echo "\\set sku random(1, 1000)"
		local k=0 expr="\\set shop CASE"
		for s in "${@:2}"; do expr="$expr WHEN :i = $k THEN $s"; k=$((k + 1)); done
		echo "$expr END"
		echo "SELECT order_mgmt.checkout(:shop, '[{\"sku\": \":sku\", \"qty\": 1}]');"
	} >"$1"
	chown postgres: "$1"
}
script "$work/all.sql" 1 2 3 4 5 6 7 8
script "$work/one.sql" "${shops1[@]}"
run() {	# run HOST PORT SCRIPT -> tps
	as_pg "$bin/pgbench" -h "$1" -p "$2" -n -c "$clients" -j "$clients" -T "$seconds" -f "$3" om \
		>"$work/pgbench.log" 2>&1
	sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/pgbench.log"
	grep -m1 'error' "$work/pgbench.log" >&2
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {printf "%.0f", a[int((NR + 1) / 2)]}'; }
declare -A tps
for r in $(seq 1 "$runs"); do
	tps[single]+="$(run "$work" "$single" "$work/all.sql") "
	tps[two]+="$(run "$work/c" "$port" "$work/all.sql") "
	tps[one]+="$(run "$work/c" "$port" "$work/one.sql") "
	tps[direct]+="$(run "$work/c" "$((port + 1))" "$work/one.sql") "
done
echo "== checkout throughput, $clients clients, ${seconds} s x $runs, fsync on, $(nproc) cores (median; runs)"
printf '%-44s %8s   %s\n' "single node (no Citus)" "$(median ${tps[single]})" "${tps[single]}"
printf '%-44s %8s   %s\n' "coordinator, shops on 2 workers" "$(median ${tps[two]})" "${tps[two]}"
printf '%-44s %8s   %s\n' "coordinator, shops on 1 worker (${shops1[*]})" "$(median ${tps[one]})" "${tps[one]}"
printf '%-44s %8s   %s\n' "worker 1 called directly" "$(median ${tps[direct]})" "${tps[direct]}"
for p in "$port" "$((port + 1))" "$((port + 2))"; do
	echo "verify() on :$p: $(psql_at "$work/c" "$p" -At -c 'SELECT count(*) FROM order_mgmt.verify()') rows"
done
