#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for order_mgmt, as root: installs the
# packages it needs, then builds (warnings are errors) and installs the
# extension.  Sourced by test/run.sh and test/demo.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "order_mgmt: run this as root (it installs packages; PostgreSQL itself runs as user postgres)" >&2
	exit 1
fi

packages=(postgresql-15 postgresql-server-dev-15 libicu-dev pkg-config make gcc libipc-run-perl
	python3-django python3-sqlalchemy python3-psycopg2 python3-psycopg
	postgresql-15-cron postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
	postgresql-server-dev-all debhelper dpkg-dev build-essential jq git chromium)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm (examples/report pins Chart.js with it): Debian's, unless a Node.js
# that brings its own npm is installed (such a nodejs conflicts with it)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
	echo "== installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# the report page's chart library, the version package-lock.json pins
# (not fatal here: without it the report page test fails and says why)
echo "== npm ci (examples/report)"
(cd examples/report && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
	echo "order_mgmt: npm ci in examples/report failed: the report page test will fail" >&2

export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
echo "== building order_mgmt (-Werror)"
make -s clean >/dev/null
make -s WERROR=-Werror >/dev/null
make -s install >/dev/null

# No cluster is dropped here: every script runs pg_virtualenv as user
# postgres, which keeps its cluster in a temporary directory, never among
# the machine's clusters, and drops it itself.
