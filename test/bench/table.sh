#!/usr/bin/env bash
# Prints the checkout benchmark's table from checkout.sh's results.tsv:
# per synchronous_commit, variant, distribution, hot-SKU buckets and
# clients the median units sold per second (counted in the database) with
# min-max over the runs, orders/s, median p50/p99 latency, and the ratios
# the issue asks for (order_mgmt against each other variant).
#   test/bench/table.sh results.tsv [--markdown | --medians]
# --markdown prints the README's tables instead (synchronous_commit on:
# distribution x clients x variant, with the columns minimal and
# om / minimal when the minimal floor ran; the hot SKU: K x clients).
# --medians prints, tab-separated, one line per sync, variant, dist, k and
# clients: the median units/s, orders/s and p99 ms, and the runs (for
# test/bench/lean.sh).
set -euo pipefail
export LC_ALL=C
[ -s "$1" ] || { echo "no results in $1"; exit 1; }
# median and min-max of a space-separated list
stats='
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function mm(list, dash,    n, a, i, lo, hi) {
	n = split(list, a, " "); lo = hi = a[1]
	for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
	return sprintf("%.0f%s%.0f", lo, dash, hi)
}
'
if [ "${2:-}" = --medians ]; then
	awk -F '\t' "$stats"'
	{
		key = $1 "\t" $2 "\t" $3 "\t" $4 "\t" $5
		if (!(key in u)) order[++n] = key
		u[key] = u[key] " " $7 / $9; o[key] = o[key] " " $8 / $9; p99[key] = p99[key] " " $11; runs[key]++
	}
	END {
		for (i = 1; i <= n; i++)
			printf "%s\t%.0f\t%.0f\t%.2f\t%d\n", order[i], median(u[order[i]]), median(o[order[i]]),
				median(p99[order[i]]), runs[order[i]]
	}' "$1"
	exit 0
fi
if [ "${2:-}" = --markdown ]; then
	awk -F '\t' "$stats"'
	$1 == "on" { k = $2 SUBSEP $3 SUBSEP $4 SUBSEP $5; u[k] = u[k] " " $7 / $9; p99[k] = p99[k] " " $11; seen[$5] = 1
				 if ($2 == "minimal") minimal = 1 }
	END {
		print "| SKUs | clients | floor | plpgsql | app | om | om / floor | om / app |" (minimal ? " minimal | om / minimal |" : "")
		print "|---|---|---|---|---|---|---|---|" (minimal ? "---|---|" : "")
		split("uniform zipfian hot", ds, " "); split("floor plpgsql app om", vs, " ")
		for (di = 1; di <= 3; di++) for (c = 1; c <= 256; c++) {
			if (!((vs[4] SUBSEP ds[di] SUBSEP 1 SUBSEP c) in u)) continue
			line = "| " ds[di] " | " c
			for (vi = 1; vi <= 4; vi++) {
				k = vs[vi] SUBSEP ds[di] SUBSEP 1 SUBSEP c
				m[vi] = (k in u) ? median(u[k]) : 0
				line = line ((k in u) ? sprintf(" | %.0f (%s)", m[vi], mm(u[k], "–")) : " | -")
			}
			line = line (m[1] > 0 ? sprintf(" | %.2f", m[4] / m[1]) : " | -") (m[3] > 0 ? sprintf(" | %.2f |", m[4] / m[3]) : " | - |")
			if (minimal) {
				k = "minimal" SUBSEP ds[di] SUBSEP 1 SUBSEP c
				line = line ((k in u) ? sprintf(" %.0f (%s) | %s |", median(u[k]), mm(u[k], "–"),
					median(u[k]) > 0 ? sprintf("%.2f", m[4] / median(u[k])) : "-") : " - | - |")
			}
			print line
		}
		print ""
		print "| stock buckets K | clients | units/s (min–max) | p99 ms |"
		print "|---|---|---|---|"
		split("1 4 16 16q", ks, " ")
		for (i = 1; i <= 4; i++) for (c = 1; c <= 256; c++) {
			k = "om" SUBSEP "hot" SUBSEP ks[i] SUBSEP c
			if (!(k in u)) continue
			printf "| %s | %d | %.0f (%s) | %.0f |\n", ks[i] == "16q" ? "16 + admission queue" : ks[i], c,
				median(u[k]), mm(u[k], "–"), median(p99[k])
		}
	}' "$1"
	exit 0
fi
sort -t "$(printf '\t')" -k1,1 -k3,3 -k4,4 -k5,5n -k2,2 "$1" | awk -F '\t' "$stats"'
function minmax(list) { return mm(list, "-") }
{
	key = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4 SUBSEP $5
	if (!(key in units)) order[++nkeys] = key
	units[key] = units[key] " " $7 / $9
	orders[key] = orders[key] " " $8 / $9
	p50[key] = p50[key] " " $10
	p99[key] = p99[key] " " $11
	runs[key]++
}
END {
	printf "%-4s %-8s %-8s %-4s %4s %18s %9s %8s %8s %5s\n", "sync", "variant", "dist", "k", "cli",
		"units/s (min-max)", "orders/s", "p50 ms", "p99 ms", "runs"
	for (i = 1; i <= nkeys; i++) {
		k = order[i]; split(k, f, SUBSEP)
		u = median(units[k]); med[k] = u; p99m[k] = median(p99[k])
		printf "%-4s %-8s %-8s %-4s %4s %7.0f (%9s) %9.0f %8.2f %8.2f %5d\n", f[1], f[2], f[3], f[4], f[5],
			u, minmax(units[k]), median(orders[k]), median(p50[k]), p99m[k], runs[k]
	}
	print ""
	print "ratios of median units/s (goal in brackets):"
	for (i = 1; i <= nkeys; i++) {
		k = order[i]; split(k, f, SUBSEP)
		if (f[2] != "om" || f[4] != "1") continue
		line = ""
		split("floor plpgsql app minimal needed", vs, " ")
		for (j = 1; j <= 5; j++) {
			o = f[1] SUBSEP vs[j] SUBSEP f[3] SUBSEP f[4] SUBSEP f[5]
			if (o in med && med[o] > 0) {
				goal = vs[j] == "floor" && f[1] == "on" ? " [>=0.9]" : \
					   vs[j] == "plpgsql" && f[1] == "off" && f[3] == "uniform" && f[5] == 8 ? " [>=1.2]" : \
					   vs[j] == "app" && f[5] == 32 ? " [>=1.5]" : \
					   vs[j] == "minimal" && f[1] == "on" && f[3] == "uniform" && f[5] == 8 ? " [>=0.8]" : ""
				line = line sprintf("  om/%s %.2f%s", vs[j], med[k] / med[o], goal)
			}
		}
		if (line != "") printf "  sync %-3s %-8s %3s clients:%s\n", f[1], f[3], f[5], line
	}
	# hot SKU: orders/s, since every order has one unit of the hot SKU
	for (c = 1; c <= 256; c++) {
		k1 = "on" SUBSEP "om" SUBSEP "hot" SUBSEP "1" SUBSEP c
		k16 = "on" SUBSEP "om" SUBSEP "hot" SUBSEP "16" SUBSEP c
		cf = "on" SUBSEP "commit" SUBSEP "-" SUBSEP "1" SUBSEP c
		if ((k1 in med) && (k16 in med) && med[k1] > 0)
			printf "  hot, %d clients: K=16 / K=1 %.2f [>=3 at 8]", c, med[k16] / med[k1]
		else continue
		if (cf in med) printf ", K=16 / commit floor %.2f [>=0.5 at 8]", med[k16] / med[cf]
		k8 = "on" SUBSEP "om" SUBSEP "hot" SUBSEP "16" SUBSEP 8
		if (c > 8 && (k8 in med)) printf ", vs 8 clients %.2f [>=0.9], p99 %.1f ms [<=20]", med[k16] / med[k8], p99m[k16]
		printf "\n"
	}
}'
