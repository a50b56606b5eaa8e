#!/usr/bin/env bash
# The architecture rules that a compiler does not check (CONTRIBUTING.md),
# read from the built objects with nm:
#   1. calls go downward: no file calls a file that calls it back, directly
#      or round a circle (the file-level call graph has no cycle);
#   2. every symbol the module exports carries the om_ prefix (PostgreSQL
#      15 does not hide a module's symbols; SQL-callable C is om_<name>);
#   3. no mutable global is shared between files (module state lives in
#      the acting context, context.c, or is static to its file).
# Usage: test/check_layers.sh [dir]  (after make; dir defaults to the
# checkout).  Prints the call graph's layers and "layers: ok", or what
# broke the rules, and exits non-zero then.
set -uo pipefail
cd "${1:-$(dirname "$0")/..}"
export LC_ALL=C
fail=0
objs=$(ls src/*.c | sed 's/\.c$/.o/')
for o in $objs; do
	[ -f "$o" ] || { echo "layers: $o is missing: run make first"; exit 2; }
done

declare -A def
for o in $objs; do
	f=$(basename "$o" .o)
	while read -r sym; do
		def[$sym]=$f
	done < <(nm --defined-only -g "$o" | awk '{print $3}')
done
edges=$(for o in $objs; do
	f=$(basename "$o" .o)
	nm -u "$o" | awk '{print $2}' | while read -r sym; do
		t=${def[$sym]:-}
		[ -n "$t" ] && [ "$t" != "$f" ] && echo "$f $t"
	done
done | sort -u)

# 1. no cycle
if ! order=$(echo "$edges" | tsort 2>/tmp/check_layers.$$); then
	echo "layers: the call graph has a cycle:"
	sed 's/^/  /' /tmp/check_layers.$$
	fail=1
fi
rm -f /tmp/check_layers.$$

# 2. the prefix
bad=$(for o in $objs; do nm --defined-only -g "$o" | awk '{print $3}'; done |
	grep -vE '^(om_|pg_finfo_om_|Pg_magic_func$|_PG_init$)' || true)
if [ -n "$bad" ]; then
	echo "layers: exported symbols without the om_ prefix:"
	echo "$bad" | sed 's/^/  /'
	fail=1
fi

# 3. no shared mutable data: exported data symbols (D, B, C)
data=$(for o in $objs; do nm --defined-only -g "$o" | awk -v f="$o" '$2 ~ /^[DBC]$/ {print f ": " $3}'; done)
if [ -n "$data" ]; then
	echo "layers: mutable globals shared between files:"
	echo "$data" | sed 's/^/  /'
	fail=1
fi

if [ "$fail" -eq 0 ]; then
	# each file with the files it calls, callers first
	for f in $(echo "$order"); do
		echo "  $f -> $(echo "$edges" | awk -v f="$f" '$1 == f {printf "%s ", $2}')"
	done
	echo "layers: ok"
fi
exit $fail
