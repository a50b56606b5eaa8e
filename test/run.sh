#!/usr/bin/env bash
# The test command (README): sets everything up on a fresh Debian 12 machine
# as root, then runs every test -- pg_regress, isolation and TAP -- as user
# postgres against throwaway clusters, and prints one summary line
# "N passed, M failed".  .ci/run calls exactly this.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

if ! bash "$top/test/setup.sh"; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

# The architecture rules (calls downward, om_ prefix, no shared globals),
# read from the objects the build just made.
layers_ok=0
bash "$top/test/check_layers.sh" "$top" >"/tmp/order_mgmt-layers.$$.log" 2>&1 && layers_ok=1

# PostgreSQL refuses to run as root: test in a copy owned by postgres.
work=$(mktemp -d /tmp/order_mgmt-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar -C "$top" --exclude=.git -cf - . | tar -C "$work" -xf -
chown -R postgres: "$work"
export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

run_as_postgres() {
	runuser -u postgres -- env PG_CONFIG="$PG_CONFIG" "$@"
}

passed=0
failed=0
status=0

# pg_regress and isolation: one throwaway cluster (pg_virtualenv).
echo "== pg_regress"
run_as_postgres pg_virtualenv -o "max_prepared_transactions=10" \
	make -C "$work" installcheck ISOLATION= TAP_TESTS= >"$work/regress.log" 2>&1 || status=1
echo "== isolation"
run_as_postgres pg_virtualenv -o "max_prepared_transactions=10" \
	make -C "$work" installcheck REGRESS= TAP_TESTS= >"$work/isolation.log" 2>&1 || status=1
# TAP tests start their own clusters (PostgreSQL::Test::Cluster).  Those
# under load run short here: CRASH_CYCLES=10 (006, default 2) and
# UPGRADE_LOAD_SECONDS (007, default 2) make the full runs.
echo "== TAP"
run_as_postgres make -C "$work" installcheck REGRESS= ISOLATION= >"$work/tap.log" 2>&1 || status=1
# Full-row saves from real ORMs (Django, SQLAlchemy): fresh ones go through,
# stale ones are refused and change nothing.
echo "== ORM"
run_as_postgres pg_virtualenv /usr/bin/python3 "$work/test/orm/orm_test.py" >"$work/orm.log" 2>&1
# The reference shop backend (examples/backend): 50 customers at once over
# HTTP; the database is checked afterwards.
echo "== backend"
run_as_postgres pg_virtualenv /usr/bin/python3 "$work/examples/backend/test_backend.py" >"$work/backend.log" 2>&1
# The daily report page (examples/report): a shop's reports as one HTML page
# with Chart.js inlined, opened in headless Chromium; the charts drew and
# the page's numbers are the report's.
echo "== report page"
run_as_postgres pg_virtualenv /usr/bin/python3 "$work/examples/report/test_report.py" >"$work/report.log" 2>&1
# A short stress run (mixed operations, 16 clients) that must end with
# verify() empty; test/stress/stress.sh 60 16 is the full one.
echo "== stress (${OM_STRESS_SECONDS:=10} s)"
stress_ok=0
run_as_postgres pg_virtualenv bash "$work/test/stress/stress.sh" "$OM_STRESS_SECONDS" 16 >"$work/stress.log" 2>&1 && stress_ok=1
# The outbox (SPEC §12): a next_events and an events_since consumer poll
# two busy shops; each must deliver every event exactly once.
echo "== outbox stress (${OM_OUTBOX_SECONDS:=10} s)"
outbox_ok=0
run_as_postgres pg_virtualenv bash "$work/test/stress/outbox.sh" "$OM_OUTBOX_SECONDS" 16 >"$work/outbox.log" 2>&1 && outbox_ok=1
# The fuzzer (test/fuzz): every function with generated arguments, from a
# fixed seed; no crash, no SQLSTATE outside SPEC §16 and classes 22, 23, 40,
# 42, 55, P0, verify() empty.  OM_FUZZ_CALLS=100000 is the full run.
echo "== fuzz (${OM_FUZZ_CALLS:=3000} calls, seed ${OM_FUZZ_SEED:=19})"
fuzz_ok=0
run_as_postgres pg_virtualenv env FUZZ_CALLS="$OM_FUZZ_CALLS" FUZZ_SEED="$OM_FUZZ_SEED" \
	bash "$work/test/fuzz/run.sh" >"$work/fuzz.log" 2>&1 && fuzz_ok=1
# The example consumer (examples/consumer): exactly one win-back follow-up
# per cancelled order, though it is killed with SIGKILL again and again.
echo "== winback consumer (${OM_WINBACK_SECONDS:=15} s)"
winback_ok=0
run_as_postgres pg_virtualenv bash "$work/examples/consumer/test_winback.sh" "$OM_WINBACK_SECONDS" >"$work/winback.log" 2>&1 && winback_ok=1
# The benchmark suite in seconds (test/bench/suite.sh, SMOKE=1): every
# script runs and ends consistent (nothing oversold, verify() empty, no
# memory growth); its figures are not judged.
echo "== bench smoke"
run_as_postgres pg_virtualenv env SMOKE=1 bash "$work/test/bench/suite.sh" >"$work/smoke.log" 2>&1
# A shop's own tests with pgTAP and the test clock (examples/pgtap), run
# with pg_prove.
echo "== pgTAP"
run_as_postgres pg_virtualenv bash "$work/examples/pgtap/run.sh" >"$work/pgtap.log" 2>&1
# Citus: a coordinator and two workers on loopback, the API through the
# coordinator (test/citus/citus.sh, docs/citus.md); skipped with a message
# when ../shared/citus (Citus 13.2.2) is not beside the repository.
echo "== citus"
OM_CITUS_INSTALL="$top/../shared/citus/install.sh" bash "$work/test/citus/citus.sh" >"$work/citus.log" 2>&1

# The Debian package (built, installed, installcheck'd against, removed,
# the shared install directory put back) and PGXN's META.json and zip:
# last, as it installs into the directories the tests above use.
echo "== package"
bash "$top/test/package.sh" >"$work/package.log" 2>&1

for log in regress isolation; do
	grep -E '\.\.\. (ok|FAILED|failed)' "$work/$log.log" | sed 's/^/  /'
	p=$(grep -cE '\.\.\. ok' "$work/$log.log")
	f=$(grep -cE '\.\.\. (FAILED|failed)' "$work/$log.log")
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		f=1				# the runner did not get as far as running tests
		tail -30 "$work/$log.log"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
for diffs in "$work/regression.diffs" "$work/output_iso/regression.diffs"; do
	[ -s "$diffs" ] && { echo "== $diffs"; head -300 "$diffs"; }
done

grep -E '^(ok|not ok) ' "$work/tap.log" | sed 's/^/  tap: /'
p=$(grep -cE '^ok ' "$work/tap.log")
f=$(grep -cE '^not ok ' "$work/tap.log")
if grep -q 'Result: FAIL' "$work/tap.log" || { [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; }; then
	[ "$f" -eq 0 ] && f=1
	tail -40 "$work/tap.log"
	for l in "$work"/tmp_check/log/*; do [ -f "$l" ] && { echo "== $l"; tail -40 "$l"; }; done
fi
passed=$((passed + p))
failed=$((failed + f))

# one test each: show its summary lines, or its log's tail when it failed
count_one() {			# ok(0/1) log pattern
	grep -E "$3" "$2" | sed 's/^ */  /'
	if [ "$1" -eq 1 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		tail -40 "$2"
	fi
}
# a log of "ok ..." / "not ok ..." lines: one test each; a failure too
# when the log lacks its line of success
count_tap() {			# log label success-pattern
	grep -E '^(ok|not ok) ' "$1" | sed "s/^/  $2: /"
	local p f
	p=$(grep -cE '^ok ' "$1")
	f=$(grep -cE '^not ok ' "$1")
	if ! grep -qE "$3" "$1"; then
		[ "$f" -eq 0 ] && f=1
		tail -30 "$1"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}
# a TAP-printing script that closes on "NAME: N passed, 0 failed"
count_checks() {		# name (its log is $work/name.log)
	count_tap "$work/$1.log" "$1" "^$1: [0-9]+ passed, 0 failed\$"
}
count_checks orm
count_checks backend
count_checks report

mv "/tmp/order_mgmt-layers.$$.log" "$work/layers.log"
count_one "$layers_ok" "$work/layers.log" '^layers:'
count_one "$stress_ok" "$work/stress.log" '^ *(tps|stress:)'
count_one "$outbox_ok" "$work/outbox.log" '^ *(shop [12]:|next_events:|events_since:|outbox:)'
count_one "$winback_ok" "$work/winback.log" '^ *(tps|follow-ups before|winback:)'
count_one "$fuzz_ok" "$work/fuzz.log" '^(fuzz: [0-9]|SQLSTATEs:|never reached:|VIOLATION)'
# the bench smoke: one test per benchmark script
grep -E '^(######## |sell-out:|run_due:|memory:|  sync|  hot|verify)' "$work/smoke.log" | sed 's/^/  bench: /'
if grep -qE '^bench: [0-9]+ passed, [0-9]+ failed$' "$work/smoke.log"; then
	p=$(sed -n 's/^bench: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$work/smoke.log")
	f=$(sed -n 's/^bench: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$work/smoke.log")
else
	p=0 f=1
fi
[ "$f" -gt 0 ] && tail -60 "$work/smoke.log"
passed=$((passed + p))
failed=$((failed + f))

# the Citus checks: one test each (none when skipped)
grep -E '^  citus: (ok|not ok) |^citus: ' "$work/citus.log" | sed 's/^ */  /'
if grep -q '^citus: skipped' "$work/citus.log"; then
	:
elif grep -qE '^citus: [0-9]+ passed, [0-9]+ failed$' "$work/citus.log"; then
	p=$(sed -n 's/^citus: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$work/citus.log")
	f=$(sed -n 's/^citus: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$work/citus.log")
	[ "$f" -gt 0 ] && tail -60 "$work/citus.log"
	passed=$((passed + p))
	failed=$((failed + f))
else
	tail -40 "$work/citus.log"
	failed=$((failed + 1))
fi

# pgTAP (one test per assertion) and packaging (one per check)
count_tap "$work/pgtap.log" pgtap '^Result: PASS'
count_tap "$work/package.log" package '^package: [0-9]+ passed, 0 failed$'

[ "$failed" -gt 0 ] && status=1
echo "$passed passed, $failed failed"
exit $status
