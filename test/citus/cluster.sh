#!/usr/bin/env bash
# A throwaway Citus cluster on loopback: a coordinator and two workers.
# usage (as postgres): cluster.sh start DIR PORT   -- ports PORT, PORT+1, PORT+2
#                      cluster.sh stop DIR
# start: initdb three nodes with shared_preload_libraries = 'citus', start
# them, CREATE EXTENSION citus on each, restart them with order_mgmt's
# sweeper too (in "om", every hour until a test says otherwise) and
# citus_add_node the workers on the coordinator.  Databases are "om" on
# every node.  fsync is off unless OM_CITUS_FSYNC=on (benchmarks).
set -euo pipefail
bin=$(${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config} --bindir)
cmd=$1 dir=$2
case $cmd in
start)
	port=$3
	mkdir -p "$dir"
	for i in 0 1 2; do
		d=$dir/n$i p=$((port + i))
		"$bin/initdb" -D "$d" -A trust -U postgres --no-sync >"$dir/initdb$i.log" 2>&1
		cat >>"$d/postgresql.conf" <<CONF
port = $p
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 120
max_prepared_transactions = 100
fsync = ${OM_CITUS_FSYNC:-off}
synchronous_commit = ${OM_CITUS_FSYNC:-off}
full_page_writes = ${OM_CITUS_FSYNC:-off}
shared_buffers = 128MB
citus.shard_count = ${OM_CITUS_SHARDS:-8}
citus.max_cached_conns_per_worker = 4
log_min_messages = warning
log_line_prefix = '%m [%p] n$i '
CONF
		"$bin/pg_ctl" -D "$d" -l "$dir/n$i.log" -w start >/dev/null
		"$bin/psql" -h "$dir" -p "$p" -X -q -d postgres -c "CREATE DATABASE om" \
			-c "\\c om" -c "CREATE EXTENSION citus"
		# order_mgmt's sweeper in "om", which now exists; it sleeps until a
		# test sets a shorter order_mgmt.sweep_interval
		cat >>"$d/postgresql.conf" <<CONF
shared_preload_libraries = 'citus,order_mgmt'
order_mgmt.database = 'om'
order_mgmt.sweep_interval = '1h'
CONF
		"$bin/pg_ctl" -D "$d" -l "$dir/n$i.log" -w -m fast restart >/dev/null
	done
	"$bin/psql" -h "$dir" -p "$port" -X -q -d om -v ON_ERROR_STOP=1 \
		-c "SELECT pg_catalog.citus_set_coordinator_host('127.0.0.1', $port)" \
		-c "SELECT pg_catalog.citus_add_node('127.0.0.1', $((port + 1)))" \
		-c "SELECT pg_catalog.citus_add_node('127.0.0.1', $((port + 2)))" >/dev/null
	;;
stop)
	for i in 0 1 2; do
		[ -d "$dir/n$i" ] && "$bin/pg_ctl" -D "$dir/n$i" -m immediate stop >/dev/null 2>&1 || true
	done
	;;
*)
	echo "usage: $0 start DIR PORT | stop DIR" >&2
	exit 2
	;;
esac
