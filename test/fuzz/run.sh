#!/usr/bin/env bash
# The fuzzer (issue 19): calls every order_mgmt function with generated
# arguments in a fresh database, then checks the server log for crashes.
# Runs against the server in the PG* environment (for example inside
# pg_virtualenv), as a non-root user.
#   test/fuzz/run.sh [calls=3000] [seed=19]
# FUZZ_CALLS=100000 is the full run (docs/testing.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export FUZZ_CALLS=${1:-${FUZZ_CALLS:-3000}}
export FUZZ_SEED=${2:-${FUZZ_SEED:-19}}
db=${FUZZ_DB:-order_mgmt_fuzz}

# pg_virtualenv keeps the server log beside its clusters' configuration
if [ -z "${FUZZ_SERVER_LOG:-}" ] && [ -n "${PG_CLUSTER_CONF_ROOT:-}" ]; then
	FUZZ_SERVER_LOG=$(ls "$(dirname "$PG_CLUSTER_CONF_ROOT")"/log/*.log 2>/dev/null | head -1 || true)
fi
export FUZZ_SERVER_LOG=${FUZZ_SERVER_LOG:-}

dropdb --if-exists "$db" >/dev/null
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION order_mgmt CASCADE' >/dev/null
PGDATABASE=$db /usr/bin/python3 "$here/fuzz.py"
