#!/usr/bin/env bash
# Runs the example pgTAP tests with pg_prove in a fresh database: as user
# postgres, inside pg_virtualenv (test/run.sh) or against any cluster the
# PG* environment variables name.  Needs postgresql-15-pgtap and
# libtap-parser-sourcehandler-pgtap-perl (pg_prove).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=order_mgmt_pgtap
dropdb --if-exists "$db"
createdb "$db"
trap 'dropdb --if-exists "$db"' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION order_mgmt'
pg_prove --verbose -d "$db" "$here"/test_*.sql
