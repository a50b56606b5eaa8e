# The background sweeper (SPEC §13): with order_mgmt in
# shared_preload_libraries it runs run_due() every order_mgmt.sweep_interval
# in order_mgmt.database, so overdue orders fail and, where the shop wants
# it, are cancelled with their stock released, without any API call.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('sweeper');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'order_mgmt'
order_mgmt.database = 'shop'
order_mgmt.sweep_interval = '100ms'
});
$node->start;

# the worker connects to its database (retrying until it exists) and waits
# quietly while the database lacks the extension
$node->safe_psql('postgres', 'CREATE DATABASE shop');
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity
	  WHERE backend_type = 'order_mgmt sweeper' AND datname = 'shop'}),
	'the sweeper is running');
$node->safe_psql('shop', q{
	CREATE EXTENSION order_mgmt;
	SELECT order_mgmt.create_shop(1, 'Sweeper shop');
	SELECT order_mgmt.update_shop(1, '{"auto_cancel_failed": true, "auto_cancel_delay": "1 second"}');
	SELECT order_mgmt.upsert_sku(1, 'A', 100);
	SELECT order_mgmt.set_stock(1, 'A', 3);
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 2}]', order_no => 'SLOW', payment_timeout => '1 second');
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', order_no => 'PAID', payment_timeout => '1 second');
	SELECT order_mgmt.payment_succeeded(1, (SELECT order_id FROM order_mgmt.orders WHERE order_no = 'PAID'), 100, 'p-1');
});
is($node->safe_psql('shop', q{SELECT available FROM order_mgmt.stock_level}), '0', 'all stock held');

# nobody calls the API: the sweeper fails the unpaid order, then cancels it
ok($node->poll_query_until('shop',
	q{SELECT status = 'cancelled' FROM order_mgmt.orders WHERE order_no = 'SLOW'}),
	'the unpaid order was failed and auto-cancelled by the sweeper');
is($node->safe_psql('shop',
	q{SELECT string_agg(kind || ':' || coalesce(to_value, '') || ':' || actor, ' ' ORDER BY event_id)
	  FROM order_mgmt.order_event e JOIN order_mgmt.orders o USING (shop_id, order_id)
	  WHERE o.order_no = 'SLOW' AND kind IN ('payment_status', 'order_status', 'release')}),
	'payment_status:failed:system order_status:cancelled:system release::system',
	'the events say the system did it');
is($node->safe_psql('shop', q{SELECT available FROM order_mgmt.stock_level}), '2',
	'its stock is back on sale');
is($node->safe_psql('shop', q{SELECT status || '/' || payment_status FROM order_mgmt.orders WHERE order_no = 'PAID'}),
	'pending/paid', 'the paid order is untouched');
is($node->safe_psql('shop', 'SELECT count(*) FROM order_mgmt.due_action'), '0', 'nothing left due');
is($node->safe_psql('shop', 'SELECT count(*) FROM order_mgmt.verify()'), '0', 'verify() finds nothing');

# a reload changes the interval; the worker survives it
$node->append_conf('postgresql.conf', q{order_mgmt.sweep_interval = '50ms'});
$node->reload;
$node->safe_psql('shop', q{
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', order_no => 'AFTER', payment_timeout => '1 second');
});
ok($node->poll_query_until('shop',
	q{SELECT payment_status = 'failed' FROM order_mgmt.orders WHERE order_no = 'AFTER'}),
	'after a reload the sweeper still works');

# a lock someone holds does not stop the sweeper (issue 15): its batch gives
# up after order_mgmt.sweep_lock_timeout (1s), the error is logged, and the
# same worker sweeps again once the lock is gone
my $pid = $node->safe_psql('shop',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'order_mgmt sweeper'});
$node->safe_psql('shop', q{
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', order_no => 'LOCKED', payment_timeout => '3 seconds');
});
my $offset = -s $node->logfile;
my $locker = $node->background_psql('shop');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK TABLE order_mgmt.due_action IN ACCESS EXCLUSIVE MODE');
ok($node->wait_for_log(qr/ERROR:  canceling statement due to lock timeout/, $offset),
	'the sweeper gives up waiting for the lock and logs it');
ok($node->poll_query_until('shop',
	q{SELECT payment_due_at < now() FROM order_mgmt.orders WHERE order_no = 'LOCKED'}),
	'the order is overdue');
$offset = -s $node->logfile;
ok($node->wait_for_log(qr/ERROR:  canceling statement due to lock timeout/, $offset),
	'the sweeper tries again at the next interval');
is($node->safe_psql('shop', q{SELECT payment_status FROM order_mgmt.orders WHERE order_no = 'LOCKED'}),
	'unpaid', 'nothing was swept while the lock was held');
$locker->query_safe('COMMIT');
$locker->quit;
ok($node->poll_query_until('shop',
	q{SELECT payment_status = 'failed' FROM order_mgmt.orders WHERE order_no = 'LOCKED'}),
	'once the lock is released the sweeper fails the overdue order');
is($node->safe_psql('shop',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'order_mgmt sweeper'}),
	$pid, 'the same worker: the error did not end it');
is($node->safe_psql('shop', 'SELECT count(*) FROM order_mgmt.verify()'), '0', 'verify() finds nothing');

$node->stop;
done_testing();
