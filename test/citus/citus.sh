#!/usr/bin/env bash
# The Citus suite (issue 16, docs/citus.md), as root: installs Citus 13.2.2
# from ../shared/citus/ (beside the repository), starts a coordinator and
# two workers as user postgres on loopback (test/citus/cluster.sh), and
# runs test/citus/citus.sql through the coordinator: CREATE EXTENSION
# (propagated by Citus), order_mgmt.distribute(), the API scenarios, checks
# that every shop runs on its worker and verify() is empty, and that a
# worker's backend keeps its memory flat over many calls (memory.sql).
# Prints the checks and "citus: N passed, M failed"; without
# ../shared/citus it prints "citus: skipped" and how to run it.
# usage: bash test/citus/citus.sh [PORT]      (PORT, PORT+1, PORT+2; default 57400)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
install=${OM_CITUS_INSTALL:-$top/../shared/citus/install.sh}
port=${1:-57400}
plan=71
if [ ! -f "$install" ]; then
	echo "citus: skipped: no $install (Citus 13.2.2 beside the repository);"
	echo "citus: run it with OM_CITUS_INSTALL=/path/to/citus/install.sh bash test/citus/citus.sh"
	exit 0
fi
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bash "$install" || { echo "citus: 0 passed, 1 failed"; exit 1; }
work=$(mktemp -d /tmp/order_mgmt-citus.XXXXXX)
chown postgres: "$work"
cp "$top/test/citus/cluster.sh" "$top/test/citus/citus.sql" "$top/test/citus/memory.sql" \
	"$top/test/citus/sellout.sh" "$top/test/citus/bulk_lock.sh" "$top/test/citus/move_blocked.sh" "$work/"
as_pg() { (cd "$work" && runuser -u postgres -- env PG_CONFIG="$PG_CONFIG" "$@"); }
trap 'as_pg bash "$work/cluster.sh" stop "$work/c"; rm -rf "$work"' EXIT
if ! as_pg bash "$work/cluster.sh" start "$work/c" "$port" >"$work/start.log" 2>&1; then
	cat "$work/start.log"
	tail -20 "$work"/c/n*.log
	echo "citus: 0 passed, 1 failed"
	exit 1
fi
as_pg "$(dirname "$PG_CONFIG")/psql" -h "$work/c" -p "$port" -d om -X -f "$work/citus.sql" >"$work/out.log" 2>"$work/err.log"
as_pg bash "$work/move_blocked.sh" "$work/c" "$port" >>"$work/out.log" 2>>"$work/err.log"
as_pg bash "$work/sellout.sh" "$work/c" "$port" >>"$work/out.log" 2>>"$work/err.log"
# multi-row UPDATEs and checkouts on one shop: no deadlock (bulk_lock.sh)
as_pg bash "$work/bulk_lock.sh" "$work/c" "$port" >>"$work/out.log" 2>>"$work/err.log"
# the report page (examples/report) through the coordinator: written, one
# row per day, the days' orders adding up to report_daily_breakdown's
days=("$(date -u -d '-1 day' +%F)" "$(date -u -d '+1 day' +%F)")
if as_pg env PGHOST="$work/c" PGPORT="$port" PGDATABASE=om /usr/bin/python3 "$top/examples/report/report_page.py" \
		110 "${days[@]}" -o "$work/report.html" >/dev/null 2>>"$work/err.log"; then
	want=$(as_pg "$(dirname "$PG_CONFIG")/psql" -h "$work/c" -p "$port" -d om -XAtc \
		"SELECT sum(orders) FROM order_mgmt.report_daily_breakdown(110, '${days[0]}', '${days[1]}')")
	got=$(grep 'data-table="daily"' "$work/report.html" | grep -o 'data-key="orders" data-value="[0-9]*"' |
		grep -o '[0-9]*"$' | tr -d '"' | awk '{ n++; s += $1 } END { print n " " s }')
	[ "$got" = "3 $want" ] && r=ok || r="not ok"
	echo "$r - report_page.py through the coordinator: 3 days, $want orders (page: $got)" >>"$work/out.log"
else
	echo "not ok - report_page.py through the coordinator" >>"$work/out.log"
fi
# on a worker: memory stays flat over many calls (memory.sql)
as_pg "$(dirname "$PG_CONFIG")/psql" -h "$work/c" -p "$((port + 1))" -d om -X -f "$work/memory.sql" >>"$work/out.log" 2>>"$work/err.log"
grep -E '^(ok|not ok) - ' "$work/out.log" | sed 's/^/  citus: /'
p=$(grep -cE '^ok - ' "$work/out.log")
f=$(grep -cE '^not ok - ' "$work/out.log")
if [ $((p + f)) -ne "$plan" ]; then
	echo "citus: planned $plan checks, ran $((p + f))"
	f=$((f + plan - p - f))
fi
if [ "$f" -gt 0 ]; then
	echo "== errors (some are expected)"
	head -60 "$work/err.log"
fi
echo "citus: $p passed, $f failed"
[ "$f" -eq 0 ]
