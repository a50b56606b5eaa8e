#!/usr/bin/env bash
# Runs the pg_regress and isolation suites once against a throwaway cluster
# whose postmaster (and so every backend, background worker and auxiliary
# process it forks) runs under valgrind's memcheck, then lets the background
# sweeper (order_mgmt is preloaded) fail and cancel one overdue order
# (test/valgrind_sweeper.sql), and reports every error valgrind saw and
# which of them have a frame in order_mgmt.so.
#
# usage:  make valgrind [PG_CONFIG=...]          (installs, then runs this)
#         PG_CONFIG=... bash test/valgrind.sh    (order_mgmt already installed)
#
# Knobs (environment):
#   PG_CONFIG   the server to use (default: pg_config on PATH); its bindir,
#               pkglibdir and PGXS give postgres, order_mgmt.so, pg_regress
#   REGRESS     pg_regress tests (default: the Makefile's REGRESS)
#   ISOLATION   isolation specs (default: the Makefile's ISOLATION);
#               ISOLATION= skips them
#   VG_PORT     port of the throwaway cluster (default 54329)
#   VG_OPTS     extra valgrind options (default --track-origins=yes)
#   VG_KEEP=1   keep the work directory even when clean
#
# Not in CI: it takes about half an hour on 2 cores (docs/testing.md).
# PostgreSQL refuses to run as root: as root it runs the cluster as user
# postgres in a postgres-owned temporary directory.
#
# Debian's (and most distributions') PostgreSQL is not built with
# USE_VALGRIND, so palloc'd memory is not instrumented chunk by chunk:
# memcheck sees uninitialised stack variables and fresh malloc'd blocks,
# reads outside malloc'd blocks and invalid frees, but not an overrun into
# the next palloc chunk of the same block nor a use of a pfree'd chunk.
# Leaks are not checked (--leak-check=no): memory contexts free in bulk.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
bindir=$("$PG_CONFIG" --bindir)
pkglibdir=$("$PG_CONFIG" --pkglibdir)
pgxsdir=$(dirname "$("$PG_CONFIG" --pgxs)")/..
VG_PORT=${VG_PORT:-54329}
VG_OPTS=${VG_OPTS:---track-origins=yes}
supp="$top/test/valgrind.supp"

makevar() {
	make -s -C "$top" --no-print-directory PG_CONFIG="$PG_CONFIG" \
		-f Makefile -f - print-var VAR="$1" <<'EOF'
print-var:
	@echo $($(VAR))
EOF
}
REGRESS=${REGRESS-$(makevar REGRESS)}
ISOLATION=${ISOLATION-$(makevar ISOLATION)}

command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install -y valgrind)"; exit 2; }
[ -f "$pkglibdir/order_mgmt.so" ] || { echo "order_mgmt.so not in $pkglibdir: make install PG_CONFIG=$PG_CONFIG first"; exit 2; }

work=$(mktemp -d /tmp/order_mgmt-valgrind.XXXXXX)
mkdir -p "$work/vg" "$work/src"
tar -C "$top" --exclude=.git -cf - sql expected test/specs test/expected \
	test/valgrind_sweeper.sql | tar -C "$work/src" -xf -
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
	chown -R postgres: "$work"
	as_pg=(runuser -u postgres --)
fi
pg() { "${as_pg[@]}" "$@"; }

echo "work=$work  server=$("$PG_CONFIG" --version)  lib=$pkglibdir/order_mgmt.so"
pg "$bindir/initdb" -D "$work/data" -A trust -U postgres --no-sync >"$work/initdb.log" 2>&1 \
	|| { cat "$work/initdb.log"; exit 2; }

# The postmaster under valgrind; children are forked (no exec), so memcheck
# follows every backend; --trace-children also follows anything exec'd.
# One log per process (%p).  jit=off: LLVM's generated code is not ours and
# is noise to memcheck.
start=$(date +%s)
pg valgrind --quiet --trace-children=yes --leak-check=no --num-callers=40 \
	--suppressions="$supp" --error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END \
	--log-file="$work/vg/%p.log" $VG_OPTS \
	"$bindir/postgres" -D "$work/data" -p "$VG_PORT" -c listen_addresses= \
	-c unix_socket_directories="$work" -c jit=off -c fsync=off \
	-c max_prepared_transactions=10 -c log_line_prefix='%m [%p] ' \
	-c shared_preload_libraries=order_mgmt -c order_mgmt.database=vg_sweeper \
	-c order_mgmt.sweep_interval=200ms \
	>"$work/postmaster.log" 2>&1 &
for _ in $(seq 1 600); do
	pg "$bindir/pg_isready" -q -h "$work" -p "$VG_PORT" && break
	sleep 1
done
pg "$bindir/pg_isready" -q -h "$work" -p "$VG_PORT" || { tail -20 "$work/postmaster.log"; exit 2; }
# the sweeper's database, empty until the last phase: it waits there quietly
pg "$bindir/createdb" -h "$work" -p "$VG_PORT" vg_sweeper

status=0
common=(--bindir="$bindir" --host="$work" --port="$VG_PORT" --dbname=contrib_regression)
if [ -n "$REGRESS" ]; then
	echo "== pg_regress under valgrind: $(wc -w <<<"$REGRESS") tests"
	pg "$pgxsdir/test/regress/pg_regress" "${common[@]}" --inputdir="$work/src" \
		--outputdir="$work/regress" $REGRESS >"$work/regress.log" 2>&1 || status=1
	mkdir -p "$work/regress"
	grep -E '^(test| ) |^ok|^not ok|tests? (passed|failed)' "$work/regress.log" | grep -vE '\.\.\. ok' ; true
fi
if [ -n "$ISOLATION" ]; then
	echo "== isolation under valgrind: $(wc -w <<<"$ISOLATION") specs"
	pg "$pgxsdir/test/isolation/pg_isolation_regress" "${common[@]}" --inputdir="$work/src/test" \
		--outputdir="$work/isolation" $ISOLATION >"$work/isolation.log" 2>&1 || status=1
	grep -E '\.\.\. |tests? (passed|failed)' "$work/isolation.log" | grep -vE '\.\.\. ok' ; true
fi
# The background sweeper (preloaded, order_mgmt.database = vg_sweeper) does
# one order's deadline and auto-cancel by itself.
echo "== sweeper under valgrind"
sweeper=$(pg "$bindir/psql" -X -At -v ON_ERROR_STOP=1 -h "$work" -p "$VG_PORT" -d vg_sweeper \
	-f "$work/src/test/valgrind_sweeper.sql" 2>&1 | tail -1)
echo "$sweeper"
[ "$sweeper" = "sweeper ok" ] || status=1

pg "$bindir/pg_ctl" stop -D "$work/data" -m fast -t 600 >/dev/null
wait
echo "== $(( ($(date +%s) - start) / 60 )) min under valgrind"

# Error blocks, and those with a frame in our library: a function that
# order_mgmt.so defines (frames with line numbers do not name the object).
errors=$(cat "$work"/vg/*.log | grep -c VALGRINDERROR-BEGIN)
nm --defined-only "$pkglibdir/order_mgmt.so" | awk '$2 ~ /^[tT]$/ {print $3}' >"$work/ours.sym"
awk 'FNR == NR {sym[$1] = 1; next}
	 /VALGRINDERROR-BEGIN/ {b = ""; keep = 1; mine = 0}
	 keep {b = b FILENAME ": " $0 "\n"
		   if (match($0, /(at|by) 0x[0-9A-F]+: [A-Za-z_][A-Za-z0-9_]*/)) {
			   f = substr($0, RSTART, RLENGTH); sub(/.*: /, "", f)
			   if (f in sym || $0 ~ /order_mgmt\.so/) mine = 1 } }
	 /VALGRINDERROR-END/ {if (mine) printf "%s\n", b; keep = 0}' \
	"$work/ours.sym" "$work"/vg/*.log >"$work/ours.txt"
ours=$(grep -c VALGRINDERROR-BEGIN "$work/ours.txt")
crashed=$(grep -cE 'terminated by signal|was terminated' "$work/postmaster.log")
echo "valgrind: $errors error(s) in $(ls "$work"/vg | wc -l) processes, $ours with a frame in order_mgmt.so; server crashes: $crashed"
if [ "$ours" -gt 0 ]; then
	cat "$work/ours.txt"
	status=1
fi
if [ "$errors" -gt "$ours" ]; then
	echo "errors outside order_mgmt.so (PostgreSQL or libraries; add a suppression if harmless):"
	grep -l VALGRINDERROR-BEGIN "$work"/vg/*.log | sed 's/^/  /'
fi
[ "$crashed" -eq 0 ] || status=1
[ "$status" -eq 0 ] && [ "${VG_KEEP:-0}" != 1 ] && [ "$errors" -eq 0 ] && rm -rf "$work"
[ "$status" -eq 0 ] && echo "valgrind: no error in order_mgmt.so" || echo "valgrind: FAILED (see $work)"
exit "$status"
