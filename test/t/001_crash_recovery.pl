# Crash recovery: an immediate shutdown (as in a power cut) in the middle of
# work loses nothing that was committed and leaves every invariant intact.
# This is the harness later crash tests grow from: it starts its own
# cluster as a non-root user with PostgreSQL::Test::Cluster.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', 'fsync = on');
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION order_mgmt;
	SELECT order_mgmt.create_shop(1, 'Crash shop');
	SELECT order_mgmt.upsert_sku(1, 'A', 100, stock_buckets => 4);
	SELECT order_mgmt.set_stock(1, 'A', 40);
	INSERT INTO order_mgmt.orders (shop_id, order_id, currency)
		SELECT 1, g, 'TWD' FROM generate_series(1, 100) g;
	UPDATE order_mgmt.orders SET payment_status = 'paid' WHERE order_id <= 60;
	UPDATE order_mgmt.orders SET status = 'completed' WHERE order_id <= 30;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM order_mgmt.order_event'),
	'90', 'events written before the crash');

# An open transaction moving more orders is lost with the crash; nothing
# half-done may survive it.
my $open = $node->background_psql('postgres');
$open->query_safe('BEGIN');
$open->query_safe(q{UPDATE order_mgmt.orders SET status = 'cancelled' WHERE order_id > 60});
$open->query_safe(q{SELECT order_mgmt.adjust_stock(1, 'A', -10)});

$node->stop('immediate');
eval { $open->quit; };
$node->start;

is($node->safe_psql('postgres',
	q{SELECT status || '/' || payment_status || ':' || count(*) FROM order_mgmt.orders GROUP BY status, payment_status ORDER BY 1}),
	"completed/paid:30\npending/paid:30\npending/unpaid:40",
	'committed moves survived, the open transaction left no trace');
is($node->safe_psql('postgres', 'SELECT count(*) FROM order_mgmt.order_event'),
	'90', 'no event of the lost transaction');
is($node->safe_psql('postgres', q{SELECT on_hand FROM order_mgmt.stock_level WHERE sku = 'A'}),
	'40', 'stock as committed');
is($node->safe_psql('postgres', 'SELECT count(*) FROM order_mgmt.verify()'),
	'0', 'verify() finds nothing after recovery');

# The guard still holds after recovery.
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{UPDATE order_mgmt.orders SET status = 'pending' WHERE order_id = 1});
isnt($ret, 0, 'a completed order cannot move back after recovery');
like($stderr, qr/invalid transition of order 1: order_status completed to pending/,
	'the refusal names machine, from and to');

$node->stop;
done_testing();
