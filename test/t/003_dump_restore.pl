# pg_dump and pg_restore (SPEC §18): the extension's data comes back whole,
# label overrides survive without duplicating the built-in labels, the
# sequences go on where they were, and the invariants still hold.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('shop', q{
	CREATE EXTENSION order_mgmt;
	SELECT order_mgmt.create_shop(1, 'Dump shop');
	SELECT order_mgmt.upsert_sku(1, 'A', 100);
	SELECT order_mgmt.set_stock(1, 'A', 10);
	SELECT order_mgmt.upsert_customer(1, 'kim', 'kim@example.com');
	SELECT order_mgmt.create_promo(1, 'ONCE', 'amount', 10, usage_limit => 1);
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 2}]', customer_id => 'kim', promo_code => 'ONCE');
	SELECT order_mgmt.payment_succeeded(1, o, 190, 'p-1') FROM (SELECT max(order_id) o FROM order_mgmt.orders) x;
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]');
	INSERT INTO order_mgmt.status_label (enum_type, value, locale, label) VALUES ('payment_status', 'paid', 'ja', '支払済み');
});
my $summary = q{SELECT (SELECT count(*) FROM order_mgmt.orders) || '/' || (SELECT count(*) FROM order_mgmt.order_event)
	|| '/' || (SELECT sum(reserved) FROM order_mgmt.stock) || '/' || (SELECT used FROM order_mgmt.promo_code)
	|| '/' || (SELECT count(*) FROM order_mgmt.status_label)};
my $before = $node->safe_psql('shop', $summary);

my $dump = $node->basedir . '/shop.dump';
$node->command_ok(['pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('shop')], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE shop2');
$node->command_ok(['pg_restore', '-d', $node->connstr('shop2'), $dump], 'pg_restore');

is($node->safe_psql('shop2', $summary), $before, 'orders, events, holds, promo use and labels came back whole');
is($node->safe_psql('shop2', q{SELECT order_mgmt.label('paid'::order_mgmt.payment_status, 'ja-JP')}),
	'支払済み', 'a label override survived');
is($node->safe_psql('shop2', 'SELECT count(*) FROM order_mgmt.verify()'), '0', 'verify() finds nothing');
ok($node->safe_psql('shop2', q{SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]') > 2}),
	'sequences go on: a new order gets a new id');
my ($ret, $out, $err) = $node->psql('shop2',
	q{UPDATE order_mgmt.orders SET payment_status = 'unpaid' WHERE order_id = 1});
like($err, qr/invalid transition of order 1/, 'the guard triggers are back too');

$node->stop;
done_testing();
