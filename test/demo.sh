#!/usr/bin/env bash
# The demo command (README), on a fresh Debian 12 machine, as root:
#
#   bash test/demo.sh           installs what is missing, builds and installs
#                               order_mgmt, starts a throwaway cluster and
#                               tells a small shop's story in psql
#   bash test/demo.sh --shell   the same cluster with the extension and the
#                               demo's shop, left at a psql prompt
#
# The cluster comes from Debian's pg_virtualenv, run as user postgres
# (PostgreSQL refuses to run as root): it is called 15/regress, lives in a
# temporary directory, not among the machine's clusters in /etc/postgresql,
# and is dropped when psql ends.  The demo creates no other cluster and
# drops none.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

shell=0
case "${1:-}" in
	"") ;;
	--shell) shell=1 ;;
	*)
		echo "usage: bash test/demo.sh [--shell]" >&2
		exit 2
		;;
esac

if [ "$shell" = 1 ] && ! [ -t 0 ]; then
	cat >&2 <<-'EOF'
	test/demo.sh --shell opens an interactive psql; standard input is not a terminal.
	Run it from a terminal, or run statements in a throwaway cluster without a prompt:
	  runuser -u postgres -- pg_virtualenv psql -c 'CREATE EXTENSION order_mgmt' -c 'SELECT order_mgmt.now()'
	EOF
	exit 2
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "order_mgmt: run this as root (it installs packages; PostgreSQL itself runs as user postgres)" >&2
	exit 1
fi

bash "$top/test/setup.sh"

echo "== starting a throwaway PostgreSQL 15 cluster with pg_virtualenv (called 15/regress, in a"
echo "   temporary directory; pg_virtualenv drops it when the demo ends)"

# psql reads the script from standard input (or fd 3), so user postgres
# needs no access to this checkout.
if [ "$shell" = 0 ]; then
	runuser -u postgres -- pg_virtualenv psql -X -q -v ON_ERROR_STOP=0 -P pager=off \
		<"$top/test/demo.sql" 2>&1
	cat <<-'EOF'

	== The demo is over; its cluster is gone.  To try order_mgmt yourself:
	   bash test/demo.sh --shell
	       the same throwaway cluster with the extension and the demo's shop, at a psql
	       prompt (\q ends it and drops the cluster)
	   runuser -u postgres -- pg_virtualenv psql
	       an empty throwaway cluster (order_mgmt is installed: make install ran above);
	       type CREATE EXTENSION order_mgmt; then follow the README's quick start
	EOF
	exit 0
fi

# --shell: run the demo quietly, then hand the terminal to psql.  The
# session keeps the demo's clock and time zone, so its story can go on.
runuser -u postgres -- pg_virtualenv bash -c '
	psql -X -q -v ON_ERROR_STOP=0 <&3 >/dev/null 2>&1
	exec 3<&-
	cat <<-"EOF"

	== A psql prompt on the demo'"'"'s throwaway cluster: database postgres, extension order_mgmt,
	   shop 1 "Taipei Tea" with the orders TT-1001 .. TT-3004 of the demo.  The session clock is
	   the demo'"'"'s (order_mgmt.clock = 2026-11-20 10:05+08; RESET order_mgmt.clock for real time).
	   Try:  SELECT * FROM order_mgmt.stock_level;   \df order_mgmt.*   \dv order_mgmt.*
	   \q ends psql and drops the cluster.

	EOF
	PGOPTIONS="-c order_mgmt.clock=2026-11-20T10:05:00+08 -c TimeZone=Asia/Taipei" exec psql -X
' 3<"$top/test/demo.sql"
