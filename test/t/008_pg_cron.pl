# pg_cron instead of the background sweeper (SPEC §13: run_due() is "safe to
# run from several sessions and from pg_cron"): with only pg_cron in
# shared_preload_libraries, a cron job "SELECT order_mgmt.run_due()" in the
# shop's database fails the overdue unpaid order and, where the shop wants
# it, cancels it with its stock released, without any API call.
#
# Debian 12's pg_cron is 1.4, whose smallest schedule is one minute ('* * *
# * *'; second schedules came in 1.5), so this test waits for the next
# minute: about 30 s on average, at most one minute.  One run does both
# kinds of sweep: an overdue unpaid order is failed, and an order whose
# payment failed earlier is auto-cancelled, its stock released.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pg_cron');
$node->init;
# pg_cron's own tables live in cron.database_name (postgres); its jobs run in
# background workers (no libpq connection, so no password or socket to set)
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 20
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_cron;
	CREATE DATABASE shop;
});
$node->safe_psql('shop', q{
	CREATE EXTENSION order_mgmt;
	SELECT order_mgmt.create_shop(1, 'Cron shop');
	SELECT order_mgmt.update_shop(1, '{"auto_cancel_failed": true, "auto_cancel_delay": "1 second"}');
	SELECT order_mgmt.upsert_sku(1, 'A', 100);
	SELECT order_mgmt.set_stock(1, 'A', 3);
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', order_no => 'SLOW', payment_timeout => '1 second');
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', order_no => 'DECLINED', payment_timeout => '1 hour');
	SELECT order_mgmt.payment_failed(1, (SELECT order_id FROM order_mgmt.orders WHERE order_no = 'DECLINED'), 'card declined', 'p-0');
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', order_no => 'PAID', payment_timeout => '1 second');
	SELECT order_mgmt.payment_succeeded(1, (SELECT order_id FROM order_mgmt.orders WHERE order_no = 'PAID'), 100, 'p-1');
});
is($node->safe_psql('shop',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'order_mgmt sweeper'}),
	'0', 'no background sweeper: order_mgmt is not preloaded');
is($node->safe_psql('shop', q{SELECT available FROM order_mgmt.stock_level}), '0', 'all stock held');

# nobody calls the API: both deadlines pass, and nothing happens until the job
ok($node->poll_query_until('shop',
	q{SELECT count(*) = 2 AND bool_and(due_at < now()) FROM (
		-- a payment deadline is orders.payment_due_at (issue 21)
		SELECT payment_due_at AS due_at FROM order_mgmt.orders WHERE order_no = 'SLOW'
		UNION ALL
		SELECT d.due_at FROM order_mgmt.due_action d JOIN order_mgmt.orders o USING (shop_id, order_id)
		WHERE o.order_no = 'DECLINED' AND d.action = 'auto_cancel') x}),
	'the payment timeout and the auto-cancel are overdue');
is($node->safe_psql('shop',
	q{SELECT string_agg(order_no || ':' || status || '/' || payment_status, ' ' ORDER BY order_no)
	  FROM order_mgmt.orders WHERE order_no <> 'PAID'}),
	'DECLINED:pending/failed SLOW:pending/unpaid', 'untouched while nothing sweeps');

# the README's job: every minute, in the shop's database
is($node->safe_psql('postgres', q{
	SELECT cron.schedule_in_database('order_mgmt_run_due', '* * * * *',
		'SELECT order_mgmt.run_due()', 'shop') > 0}),
	't', 'the run_due job is scheduled');
ok($node->poll_query_until('shop',
	q{SELECT payment_status = 'failed' FROM order_mgmt.orders WHERE order_no = 'SLOW'}),
	'the cron job failed the overdue unpaid order');
is($node->safe_psql('shop',
	q{SELECT string_agg(kind || ':' || coalesce(to_value, '') || ':' || actor, ' ' ORDER BY event_id)
	  FROM order_mgmt.order_event e JOIN order_mgmt.orders o USING (shop_id, order_id)
	  WHERE o.order_no = 'SLOW' AND kind IN ('payment_status', 'order_status', 'release')}),
	'payment_status:failed:system', 'as the system');
is($node->safe_psql('shop',
	q{SELECT string_agg(kind || ':' || coalesce(to_value, '') || ':' || actor, ' ' ORDER BY event_id)
	  FROM order_mgmt.order_event e JOIN order_mgmt.orders o USING (shop_id, order_id)
	  WHERE o.order_no = 'DECLINED' AND kind IN ('order_status', 'release')}),
	'order_status:cancelled:system release::system',
	'the same run auto-cancelled the declined order as the system');
is($node->safe_psql('shop', q{SELECT available FROM order_mgmt.stock_level}), '1',
	'its stock is back on sale');
is($node->safe_psql('shop', q{SELECT status || '/' || payment_status FROM order_mgmt.orders WHERE order_no = 'PAID'}),
	'pending/paid', 'the paid order is untouched');
is($node->safe_psql('shop', q{SELECT string_agg(o.order_no || ':' || d.action, ' ' ORDER BY o.order_no, d.action)
	FROM order_mgmt.due_action d JOIN order_mgmt.orders o USING (shop_id, order_id)
	WHERE o.order_no IN ('SLOW', 'DECLINED')}),
	'SLOW:auto_cancel', 'of their deadlines only the new auto-cancel is left, for the next run');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE status = 'succeeded') || '/' || count(*)
	FROM cron.job_run_details d JOIN cron.job j USING (jobid)
	WHERE j.jobname = 'order_mgmt_run_due' AND d.status <> 'running'}) =~ /^([1-9]\d*)\/\1$/ ? 'all' : 'some failed',
	'all', 'every run of the job succeeded (cron.job_run_details)');
is($node->safe_psql('shop', 'SELECT count(*) FROM order_mgmt.verify()'), '0', 'verify() finds nothing');

$node->stop;
done_testing();
