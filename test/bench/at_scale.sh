# shellcheck shell=bash
# The steps at scale, sourced by suite.sh and lean.sh (bash; the server in
# the PG* environment):
#   reports N     gen_orders.sql (N orders of shop 1, 10,000 of each of 100
#                 other shops), then every report (reports.sql) three times:
#                 each report's median time
#   verify_at N   the same data made consistent (gen_ledgers.sql), then
#                 verify() and verify(1) three times: the median times; fails
#                 on any row
# Each works in its own database (order_mgmt_reports, order_mgmt_verify).
at_scale_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

reports() {			# orders
	local db=order_mgmt_reports times
	times=$(mktemp)
	dropdb --if-exists "$db" >/dev/null && createdb "$db" || return 1
	psql -X -q -v ON_ERROR_STOP=1 -v orders="$1" -d "$db" -f "$at_scale_dir/gen_orders.sql" >/dev/null || return 1
	for _ in 1 2 3; do
		psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$at_scale_dir/reports.sql" | grep '^Time:' || return 1
	done >"$times"
	# the median of the three times of each report, in report order
	awk '{t[NR] = $2} END {
		split("daily_breakdown lost_orders cancel_reasons followups recovery variant_mix stuck cancellations", n, " ")
		if (NR != 24) { print "reports: " NR " of 24 timings"; exit 1 }
		for (r = 1; r <= 8; r++) {
			a = t[r]; b = t[r + 8]; c = t[r + 16]
			m = (a <= b && b <= c) || (c <= b && b <= a) ? b : (b <= a && a <= c) || (c <= a && a <= b) ? a : c
			printf "   %-16s %8.1f ms (median of 3)\n", n[r], m
		}
	}' "$times"
	local rc=$?
	rm -f "$times"
	return $rc
}
verify_at() {		# orders
	local db=order_mgmt_verify out
	out=$(mktemp)
	dropdb --if-exists "$db" >/dev/null && createdb "$db" || return 1
	psql -X -q -v ON_ERROR_STOP=1 -v orders="$1" -d "$db" -f "$at_scale_dir/gen_orders.sql" >/dev/null || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$at_scale_dir/gen_ledgers.sql" >/dev/null || return 1
	for _ in 1 2 3; do
		psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -d "$db" -f "$at_scale_dir/verify.sql" || return 1
	done >"$out"
	# each call's rows must be 0; its time is the median of its three runs
	local rc=0 what rows t
	for what in all shop1; do
		rows=$(awk -v w="$what" '$1 == w {s += $2} END {print s + 0}' "$out")
		t=$(awk -v w="$what" '$1 == w {getline; print $2}' "$out" | sort -n | sed -n 2p)
		printf "   %-16s %8.1f ms (median of 3), %s rows\n" \
			"$([ "$what" = all ] && echo 'verify()' || echo 'verify(1)')" "$t" "$rows"
		[ "$rows" -eq 0 ] || rc=1
	done
	[ "$rc" -eq 0 ] || psql -X -d "$db" -c "SELECT * FROM order_mgmt.verify() LIMIT 20"
	rm -f "$out"
	return $rc
}
