#!/usr/bin/env bash
# test/pg_versions.sh PREFIX...
#
# The PostgreSQL version matrix (README "Supported PostgreSQL versions").
# For each PREFIX, a PostgreSQL installation (PREFIX/bin/pg_config, built
# with ICU, its src/test/isolation installed into PGXS: see
# docs/testing.md), this script
#   1. builds order_mgmt against it warning-free (WERROR=-Werror) in a copy
#      of this tree and installs it into PREFIX,
#   2. starts a throwaway cluster (initdb as user postgres in a temporary
#      directory, a free port, a Unix socket only),
#   3. runs "make installcheck": pg_regress, then the isolation specs,
# and prints one row per version:
#   version | build | regress | isolation
#   16.6    | ok    | 35/35   | 28/28
# Logs stay in the printed work directory.  Run as root (it installs into
# PREFIX and runs the cluster as postgres).  Exit status 0 only when every
# version built and passed every test.
#
# Never point it at a PREFIX other people test with: it installs there.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

if [ $# -eq 0 ]; then
	echo "usage: $0 PREFIX... (e.g. /opt/pg13 /opt/pg16)" >&2
	exit 2
fi

# A port nothing listens on, from 55400 up.
free_port() {
	local p
	for p in $(seq 55400 55499); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && [ ! -e "/tmp/.s.PGSQL.$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# "passed/total" from a pg_regress log: both the old ("... ok") and the
# PostgreSQL 16+ TAP-like ("ok 1 - name") line forms.
count() {
	local log=$1 ok bad
	ok=$(grep -cE '^ok [0-9]+ |\.\.\. ok ' "$log")
	bad=$(grep -cE '^not ok [0-9]+ |\.\.\. FAILED|\.\.\. failed' "$log")
	echo "$ok/$((ok + bad))"
}

as_pg() {
	runuser -u postgres -- "$@"
}

root=$(mktemp -d /tmp/om_pgversions.XXXXXX)
chmod 755 "$root"
status=0
rows=()
for prefix in "$@"; do
	pgc="$prefix/bin/pg_config"
	version=$("$pgc" --version 2>/dev/null | awk '{print $2}')
	if [ -z "$version" ]; then
		rows+=("$prefix | no pg_config | - | -")
		status=1
		continue
	fi
	work="$root/$version"
	mkdir -p "$work/src"
	tar -C "$top" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		-cf - . | tar -C "$work/src" -xf -
	build=ok regress=- isolation=-
	if ! make -C "$work/src" -s -k PG_CONFIG="$pgc" WERROR=-Werror >"$work/build.log" 2>&1 ||
		! make -C "$work/src" -s PG_CONFIG="$pgc" WERROR=-Werror install >>"$work/build.log" 2>&1; then
		build=FAILED
		rows+=("$version | $build | $regress | $isolation")
		status=1
		continue
	fi
	if [ ! -x "$(dirname "$("$pgc" --pgxs)")/../test/isolation/pg_isolation_regress" ]; then
		isolation="no pg_isolation_regress"
	fi
	chown -R postgres: "$work"
	port=$(free_port) || { echo "no free port" >&2; exit 1; }
	bindir=$("$pgc" --bindir)
	as_pg "$bindir/initdb" -D "$work/data" -A trust -U postgres --no-sync >"$work/initdb.log" 2>&1
	as_pg "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
		-o "-p $port -k $work -c listen_addresses='' -c max_prepared_transactions=10 -c fsync=off" \
		start >/dev/null 2>&1 || { rows+=("$version | $build | cluster did not start | -"); status=1; continue; }
	env_pg=(env PGHOST="$work" PGPORT="$port" PGUSER=postgres PG_CONFIG="$pgc")
	as_pg "${env_pg[@]}" make -C "$work/src" installcheck PG_CONFIG="$pgc" ISOLATION= TAP_TESTS= \
		>"$work/regress.log" 2>&1
	regress=$(count "$work/regress.log")
	if [ "$isolation" = - ]; then
		as_pg "${env_pg[@]}" make -C "$work/src" installcheck PG_CONFIG="$pgc" REGRESS= TAP_TESTS= \
			>"$work/isolation.log" 2>&1
		isolation=$(count "$work/isolation.log")
	fi
	as_pg "$bindir/pg_ctl" -D "$work/data" -m fast stop >/dev/null 2>&1
	for r in "$regress" "$isolation"; do
		case $r in
			*/*) [ "${r%/*}" = "${r#*/}" ] && [ "${r#*/}" != 0 ] || status=1 ;;
			*) status=1 ;;
		esac
	done
	rows+=("$version | $build | $regress | $isolation")
done

echo "version | build | regress | isolation"
printf '%s\n' "${rows[@]}"
echo "work=$root"
exit $status
