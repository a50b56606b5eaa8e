#!/usr/bin/env bash
# The win-back consumer is exactly-once under SIGKILL: 16 pgbench clients
# check out, pay and cancel (winback.pgbench) for S seconds while
# winback.py runs and is killed with SIGKILL every 0.2-2 s and restarted;
# then winback.py --drain catches up.  Every cancelled order must have
# exactly one follow-up, no other order any, and verify() must be empty.
# Runs against the server in the PG* environment (pg_virtualenv), as a
# non-root user; prints "winback: N cancelled, N follow-ups, K kills, ok".
#   examples/consumer/test_winback.sh [seconds=20]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-20}
db=${WINBACK_DB:-order_mgmt_winback}
export WINBACK_DSN="dbname=$db"
py=/usr/bin/python3			# Debian's, with python3-psycopg
work=$(mktemp -d)
cpid=
bpid=

cleanup() {
	[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
	[ -n "$bpid" ] && kill "$bpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

dropdb --if-exists "$db" >/dev/null
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'EOF'
CREATE EXTENSION order_mgmt;
SELECT order_mgmt.create_shop(1, 'Win-back shop');
SELECT order_mgmt.upsert_sku(1, 'S' || g, 100 + g) FROM generate_series(1, 20) g;
SELECT order_mgmt.set_stock(1, 'S' || g, 1000000) FROM generate_series(1, 20) g;
SELECT order_mgmt.upsert_customer(1, 'c' || g, 'c' || g || '@example.com') FROM generate_series(1, 200) g;
SELECT order_mgmt.enable_notify(1);
EOF

start_consumer() {
	"$py" "$here/winback.py" 1 >>"$work/consumer.log" 2>&1 &
	cpid=$!
}

echo "== winback: 16 clients, $secs s, SIGKILL every 0.2-2 s"
pgbench -n -c 16 -j 2 -T "$secs" -f "$here/winback.pgbench" "$db" >"$work/pgbench.log" 2>&1 &
bpid=$!
start_consumer
kills=0
in_xact=0
while kill -0 "$bpid" 2>/dev/null; do
	ms=$((200 + RANDOM % 1801))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	# sampled just before the kill: is the consumer inside a transaction?
	busy=$(psql -X -At -d "$db" -c "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'winback' AND xact_start IS NOT NULL")
	kill -9 "$cpid" 2>/dev/null || { echo "winback.py had exited:"; tail -20 "$work/consumer.log"; exit 1; }
	wait "$cpid" 2>/dev/null || true
	kills=$((kills + 1))
	[ "$busy" -gt 0 ] && in_xact=$((in_xact + 1))
	start_consumer
done
rc=0
wait "$bpid" || rc=$?
grep -E '^(number of transactions|tps)' "$work/pgbench.log" | sed 's/^/   /' || true
if [ "$rc" -ne 0 ]; then
	tail -20 "$work/pgbench.log"
	echo "winback: FAILED (pgbench exited $rc)"
	exit 1
fi
kill -9 "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true
cpid=
bpid=
live=$(psql -X -At -d "$db" -c "SELECT count(*) FROM winback.followup")
t0=$(date +%s%N)
if ! timeout 120 "$py" "$here/winback.py" 1 --drain >>"$work/consumer.log" 2>&1; then
	tail -20 "$work/consumer.log"
	echo "winback: FAILED (winback.py --drain)"
	exit 1
fi
echo "   follow-ups before the drain: $live, the drain took $((($(date +%s%N) - t0) / 1000000)) ms;" \
	"busy retries (55P03): $(grep -c 'is busy' "$work/consumer.log" || true)"

read -r cancelled followups wrong stray problems <<<"$(psql -X -At -F ' ' -d "$db" -c "
	WITH f AS (SELECT order_id, count(*) AS n FROM winback.followup GROUP BY order_id)
	SELECT (SELECT count(*) FROM order_mgmt.orders WHERE status = 'cancelled'),
		(SELECT count(*) FROM winback.followup),
		(SELECT count(*) FROM order_mgmt.orders o LEFT JOIN f USING (order_id)
		 WHERE o.status = 'cancelled' AND f.n IS DISTINCT FROM 1),
		(SELECT count(*) FROM f LEFT JOIN order_mgmt.orders o USING (order_id)
		 WHERE o.status IS DISTINCT FROM 'cancelled'),
		(SELECT count(*) FROM order_mgmt.verify())")"
summary="$cancelled cancelled, $followups follow-ups, $kills kills ($in_xact inside a transaction)"
if [ "$wrong" -ne 0 ] || [ "$stray" -ne 0 ] || [ "$cancelled" -ne "$followups" ] ||
	[ "$problems" -ne 0 ] || [ "$cancelled" -eq 0 ] || [ "$in_xact" -eq 0 ]; then
	psql -X -d "$db" -c "
		SELECT o.order_id, o.status, count(f.*) AS followups FROM order_mgmt.orders o
		FULL JOIN winback.followup f USING (order_id)
		GROUP BY 1, 2 HAVING (o.status = 'cancelled') IS DISTINCT FROM (count(f.*) = 1) LIMIT 20"
	psql -X -d "$db" -c "SELECT * FROM order_mgmt.verify() LIMIT 20"
	echo "winback: $summary: FAILED ($wrong cancelled orders without exactly one follow-up," \
		"$stray follow-ups of orders not cancelled, $problems verify() rows)"
	exit 1
fi
echo "winback: $summary, ok"
