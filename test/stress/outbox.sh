#!/usr/bin/env bash
# Outbox stress (SPEC §12): C clients run stress.sh's mix (checkout, pay,
# fail, cancel, reactivate, ship, refund, run_due) against two shops for S
# seconds while two consumers poll both shops all the time, one with
# next_events, one with events_since (outbox_setup.sql).  Then each drains,
# and for each: every event of the shops was delivered exactly once.
# next_events must also deliver an order's events in increasing event_id
# (their commit order: they are written under the order's row lock, ids
# from a CACHE 1 sequence).  events_since delivers in (xid, event_id)
# order, and a transaction with an older xid can write an order's events
# after a younger one committed some: its reorderings are counted and
# shown, not failed.  Ends with verify() empty.  Runs against the server in the PG* environment
# (for example inside pg_virtualenv), as a non-root user.
#   test/stress/outbox.sh [seconds=60] [clients=16]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-60}
clients=${2:-16}
db=${STRESS_DB:-order_mgmt_outbox}
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

dropdb --if-exists "$db" >/dev/null
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -v shops=2 -d "$db" -f "$here/setup.sql" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$here/outbox_setup.sql" >/dev/null

echo "== outbox: $clients clients on 2 shops, $secs s, consumers next_events and events_since"
for who in next_events events_since; do
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CALL outbox.consume('$who')" >"$work/$who.log" 2>&1 &
	pids+=($!)
done
consumers=("${pids[@]}")
mix=(-f "$here/checkout.pgbench@45" -f "$here/pay.pgbench@15" -f "$here/fail.pgbench@5"
	-f "$here/cancel.pgbench@12" -f "$here/reactivate.pgbench@5" -f "$here/ship.pgbench@8"
	-f "$here/refund.pgbench@5" -f "$here/sweep.pgbench@5")
for shop in 1 2; do
	c=$((shop == 1 ? clients / 2 : clients - clients / 2))
	PGOPTIONS="-c stress.shop=$shop" pgbench -n -c "$c" -j 1 -T "$secs" "${mix[@]}" "$db" \
		>"$work/pgbench$shop.log" 2>&1 &
	pids+=($!)
done
rc=0
wait "${pids[2]}" || rc=$?
wait "${pids[3]}" || rc=$?
for shop in 1 2; do
	grep -E '^tps' "$work/pgbench$shop.log" | sed "s/^/   shop $shop: /" || true
done
if [ "$rc" -ne 0 ]; then
	grep -hE 'error' "$work"/pgbench?.log | sort | uniq -c | head -20
	echo "outbox: FAILED (pgbench exited $rc: a client hit an unexpected error)"
	exit 1
fi

# the writers have ended: the consumers drain and stop
psql -X -q -d "$db" -c "UPDATE outbox.control SET stop = true"
for i in 0 1; do
	if ! wait "${consumers[$i]}"; then
		cat "$work"/*_*.log
		echo "outbox: FAILED (a consumer stopped with an error)"
		exit 1
	fi
done
pids=()

psql -X -d "$db" -At -F ' ' >"$work/result" <<'EOF'
WITH e AS (
	SELECT c AS consumer, shop_id, event_id
	FROM order_mgmt.order_event, unnest(ARRAY['next_events', 'events_since']) c
	WHERE shop_id IN (1, 2)),
d AS (
	SELECT consumer, shop_id, event_id, count(*) AS n FROM outbox.delivered GROUP BY 1, 2, 3),
counts AS (
	SELECT consumer,
		count(*) FILTER (WHERE e.event_id IS NOT NULL) AS events,
		count(*) FILTER (WHERE d.n IS NULL) AS missing,
		count(*) FILTER (WHERE d.n > 1) AS repeated,
		count(*) FILTER (WHERE e.event_id IS NULL) AS unknown
	FROM e FULL JOIN d USING (consumer, shop_id, event_id) GROUP BY consumer),
order_ok AS (
	SELECT consumer, count(*) FILTER (WHERE prev > event_id) AS backwards,
		round(1000 * extract(epoch FROM max(delivered_at - at)))::bigint AS max_ms,
		round(1000 * extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY delivered_at - at)))::bigint AS p99_ms
	FROM (SELECT *, lag(event_id) OVER (PARTITION BY consumer, shop_id, order_id ORDER BY seq) AS prev
		  FROM outbox.delivered) x
	GROUP BY consumer)
SELECT consumer, events, missing, repeated, unknown, backwards, max_ms, p99_ms
FROM counts JOIN order_ok USING (consumer) ORDER BY consumer DESC;
EOF
problems=$(psql -X -d "$db" -At -c "SELECT count(*) FROM order_mgmt.verify()")

ok=1
line=""
events=0
reordered=0
while read -r who n missing repeated unknown backwards max_ms p99_ms; do
	events=$n
	echo "   $who: $n events, $missing missing, $repeated repeated, $unknown unknown," \
		"$backwards out of order within an order; delay max $max_ms ms, p99 $p99_ms ms"
	if [ "$missing" -ne 0 ] || [ "$repeated" -ne 0 ] || [ "$unknown" -ne 0 ] ||
		{ [ "$who" = next_events ] && [ "$backwards" -ne 0 ]; }; then
		ok=0
		line="$line, $who FAILED"
	elif [ "$backwards" -ne 0 ]; then
		reordered=1
		line="$line, $who ok (max delay $max_ms ms; $backwards events of an order in xid, not commit, order)"
	else
		line="$line, $who ok (max delay $max_ms ms)"
	fi
done <"$work/result"
[ "$(wc -l <"$work/result")" -eq 2 ] || { cat "$work/result"; ok=0; line="$line, no result"; }
if [ "$problems" -ne 0 ]; then
	psql -X -d "$db" -c "SELECT * FROM order_mgmt.verify() LIMIT 20"
	ok=0
	line="$line, $problems verify() rows"
fi
if [ "$ok" -ne 1 ] || [ "$reordered" -eq 1 ]; then
	# an order's events delivered out of event_id order: with their writers
	psql -X -d "$db" -c "
		SELECT x.consumer, x.shop_id, x.order_id, x.seq, x.event_id, e.kind, e.to_value, e.actor, e.xid, e.at
		FROM (SELECT *, lag(event_id) OVER w AS prev, lead(event_id) OVER w AS next
			  FROM outbox.delivered WINDOW w AS (PARTITION BY consumer, shop_id, order_id ORDER BY seq)) x
		JOIN order_mgmt.order_event e USING (shop_id, event_id)
		WHERE x.prev > x.event_id OR x.next < x.event_id ORDER BY 1, 2, 3, 4 LIMIT 40"
fi
if [ "$ok" -ne 1 ]; then
	echo "outbox: $events events$line: FAILED"
	exit 1
fi
echo "outbox: $events events$line"
