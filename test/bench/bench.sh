#!/usr/bin/env bash
# The benchmark suite (issue 6), README's "make bench": on a fresh Debian 12
# machine, as root.  Sets the machine up (test/setup.sh), starts a throwaway
# cluster with the settings below (fsync on), and runs as user postgres:
#   checkout.sh   checkout throughput: floor / plpgsql / app / order_mgmt /
#                 commit floor, 3 distributions, 1/8/32 clients,
#                 synchronous_commit on and off; the hot SKU at K = 1/4/16
#                 and with the admission queue
#   wal.sh        WAL bytes per one-line checkout against the minimal floor,
#                 and order_mgmt's WAL per relation (pg_walinspect)
#   sellout.sh    10,000 units, 100,000 attempts at 32 clients
#   run_due.sh    100,000 overdue orders swept, checkouts beside
#   reports       every report over 1,000,000 orders (median of 3)
#   memory.sh     backend memory over 1,000,000 calls in one session
# and prints each one's figures.  It takes about 80 minutes; the knobs of
# checkout.sh (BENCH_SECONDS, BENCH_RUNS, ...) shorten it.
#   test/bench/bench.sh [--smoke]      (--smoke: seconds, for CI)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
smoke=0
[ "${1:-}" = --smoke ] && smoke=1

bash "$top/test/setup.sh" || { echo "bench: set-up failed"; exit 1; }

work=$(mktemp -d /tmp/order_mgmt-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$top/test" "$work/"
chown -R postgres: "$work"

# the cluster: data fits in memory, commits reach the disk
settings=(-o fsync=on -o synchronous_commit=on -o shared_buffers=2GB -o max_connections=200
		  -o max_wal_size=8GB -o checkpoint_timeout=30min -o jit=off)
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo)," \
	"$(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release), $(uname -r)"
shown=()
for o in "${settings[@]}"; do [ "$o" = -o ] || shown+=("$o"); done
echo "== cluster: PostgreSQL 15 (pg_virtualenv), ${shown[*]}"
envs=(SMOKE=$smoke)
for v in ${!BENCH_@}; do envs+=("$v=${!v}"); done
runuser -u postgres -- env "${envs[@]}" pg_virtualenv "${settings[@]}" \
	bash "$work/test/bench/suite.sh"
