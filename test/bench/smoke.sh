#!/usr/bin/env bash
# Smoke run of the benchmarks (CI): generates a small order set with
# gen_orders.sql and runs every report of reports.sql once, then a small
# sell-out run (sellout.sh) and a short memory run (memory.sh).  It checks
# that the scripts still work, that the sell-out sells exactly its stock and
# that 3,000 checkout/cancel calls do not grow the backend, never how fast.  Runs against the server in the
# PG* environment (for example inside pg_virtualenv), as a non-root user.
set -euo pipefail
export LC_MESSAGES=C LANGUAGE=C		# psql's "Time:" is counted below
here=$(cd "$(dirname "$0")" && pwd)
db=order_mgmt_bench_smoke
dropdb --if-exists "$db" >/dev/null
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -v orders=5000 -d "$db" -f "$here/gen_orders.sql" >/dev/null
out=$(psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$here/reports.sql" 2>&1) || {
	echo "$out"
	echo "bench smoke: FAILED (a report failed)"
	exit 1
}
n=$(grep -c '^Time:' <<<"$out" || true)
if [ "$n" -ne 8 ]; then
	echo "$out"
	echo "bench smoke: FAILED ($n of 8 reports ran)"
	exit 1
fi
echo "bench smoke: ok (8 reports over generated orders)"
bash "$here/sellout.sh" 500 2000 16 4
bash "$here/memory.sh" 3000
