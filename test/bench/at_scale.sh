# shellcheck shell=bash
# The steps at scale, sourced by suite.sh and lean.sh (bash; the server in
# the PG* environment):
#   reports N     gen_orders.sql (N orders of shop 1, 10,000 of each of 100
#                 other shops), then every report (reports.sql) three times:
#                 each report's median time; then the floors of the five that
#                 read or return the most rows (reports_floor.sql) the same way
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
	medians "daily_breakdown lost_orders cancel_reasons followups recovery variant_mix stuck cancellations" \
		"median of 3" <"$times" || { rm -f "$times"; return 1; }
	# their floors (reports_floor.sql): the same rows, plain
	for _ in 1 2 3; do
		psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$at_scale_dir/reports_floor.sql" | grep '^Time:' || return 1
	done >"$times"
	medians "daily_breakdown followups variant_mix stuck cancellations" "its floor, median of 3" <"$times"
	local rc=$?
	rm -f "$times"
	return $rc
}
# The median of three rounds of timings (psql's "Time: N ms" lines, round
# after round) of each name in $1, printed with the label $2.
medians() {		# names label
	awk -v names="$1" -v label="$2" '{t[NR] = $2} END {
		k = split(names, n, " ")
		if (NR != 3 * k) { print "reports: " NR " of " 3 * k " timings"; exit 1 }
		for (r = 1; r <= k; r++) {
			a = t[r]; b = t[r + k]; c = t[r + 2 * k]
			m = (a <= b && b <= c) || (c <= b && b <= a) ? b : (b <= a && a <= c) || (c <= a && a <= b) ? a : c
			printf "   %-16s %8.1f ms (%s)\n", n[r], m, label
		}
	}'
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
