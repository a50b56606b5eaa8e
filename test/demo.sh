#!/usr/bin/env bash
# The demo command (README): sets everything up on a fresh Debian 12 machine
# as root, starts a throwaway cluster and tells a small shop's story in psql.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/test/setup.sh"
# psql reads the script from standard input, so user postgres needs no
# access to this checkout.
runuser -u postgres -- pg_virtualenv psql -X -q -v ON_ERROR_STOP=0 -P pager=off \
	<"$top/test/demo.sql" 2>&1
