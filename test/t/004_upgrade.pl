# Upgrade in place (issue 13): shops keep their orders, so a release is
# reached by ALTER EXTENSION order_mgmt UPDATE, never by re-creating the
# extension.  For every released version (a frozen order_mgmt--X.sql at the
# top of the tree), install it, fill it through the API, update it to the
# control file's default_version, and check that
#   - the schema equals a fresh install of default_version, compared as
#     pg_dump --schema-only --binary-upgrade output (see normalized_schema);
#   - the data are the same as before, verify() finds nothing, and the API
#     still works (a checkout, a cancel, the promo limit).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# the tests run from the top of the tree (PGXS prove_installcheck)
my ($current) = slurp_file('order_mgmt.control') =~ /^default_version = '([^']+)'/m
  or die "no default_version in order_mgmt.control";
my @released = sort grep { $_ ne $current }
  map { /^order_mgmt--([^-]+)\.sql$/ ? $1 : () } glob('order_mgmt--*.sql');
ok(scalar(grep { $_ eq '0.1.0' } @released), "0.1.0 is released (frozen order_mgmt--0.1.0.sql)");

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

# Everything comparable about a database's schema, one text.  pg_dump omits
# the members of an extension, except with --binary-upgrade, which dumps
# each member object (tables, columns in order, indexes, constraints,
# functions with their bodies, triggers, views, types and enum labels in
# order, sequences, COMMENTs, GRANTs, and the initial privileges of
# pg_init_privs) followed by ALTER EXTENSION ... ADD.  Filtered out, as
# they differ between any two databases or record physical history rather
# than the schema:
#   - \restrict / \unrestrict: a random key per dump;
#   - binary_upgrade_set_next_*(oid): OIDs and relfilenodes;
#   - the relfrozenxid/relminmxid (and datfrozenxid) UPDATEs: transaction ids;
#   - binary_upgrade_set_missing_value: the stored default of a column an
#     upgrade added with ALTER TABLE ADD COLUMN ... DEFAULT (atthasmissing),
#     which a fresh CREATE TABLE does not need;
#   - the order of consecutive GRANTs: it follows the order of the
#     privileges in the ACL, that is of the GRANT statements that made them,
#     and a set of grants is the same in any order;
#   - dropped columns, which --binary-upgrade recreates as placeholders
#     ("........pg.dropped.N........") to keep attribute numbers;
#   - the SEQUENCE SET entries (setval): --binary-upgrade dumps the
#     sequences' values even with --schema-only, and they are data
#     (compared with the data below);
#   - the OID list of extconfig and its extcondition in
#     binary_upgrade_create_empty_extension: appended below instead as
#     (table, condition) pairs sorted by table name, since the order of
#     pg_extension_config_dump calls is not part of the schema.
# The dump is then split into its entries ("-- Name: ...; Type: ...") and
# these are sorted: pg_dump orders entries partly by OID, which an upgrade
# legitimately changes.  Column order is compared as it is: a column an
# upgrade adds comes last, so it must come last in src/sql/ too.
sub normalized_schema
{
	my ($db) = @_;
	my $file = $node->basedir . "/$db.schema.sql";
	$node->command_ok(
		[ 'pg_dump', '--schema-only', '--binary-upgrade', '-f', $file, '-d', $node->connstr($db) ],
		"pg_dump --schema-only --binary-upgrade of $db");
	my $s = slurp_file($file);
	$s =~ s/^\\(?:un)?restrict .*\n//mg;
	$s =~ s/^SELECT pg_catalog\.binary_upgrade_set_next_\w+\(.*\);\n//mg;
	$s =~ s/^\n-- set missing value\.\nSELECT pg_catalog\.binary_upgrade_set_missing_value\(.*\);\n\n//mg;
	$s =~ s/^\n-- For binary upgrade, set \S+ (?:relfrozenxid|datfrozenxid).*\nUPDATE pg_catalog\.pg_\w+\nSET .*\nWHERE .*;\n//mg;
	$s =~ s/^\n-- For binary upgrade, recreate dropped column\.\nUPDATE pg_catalog\.pg_attribute\n(?:.*\n)*?ALTER TABLE ONLY .* DROP COLUMN .*;\n//mg;
	$s =~ s/^.*"\.+pg\.dropped\.\d+\.+".*\n//mg;
	$s =~ s/,\n\)/\n)/g;    # a dropped column was the last one
	$s =~ s/^(SELECT pg_catalog\.binary_upgrade_create_empty_extension\('order_mgmt', 'order_mgmt', \w+, '[^']*', ).*(, ARRAY\[[^\]]*\]::pg_catalog\.text\[\]\);)$/$1<extconfig, extcondition: below>$2/mg;
	$s =~ s/((?:^GRANT .*\n)+)/join('', sort split(m{^}m, $1))/mge;
	$s =~ s/^-- PostgreSQL database dump complete\n(?:.*\n)*//m;
	my @entries = map { s/\s+\z//r . "\n" } split /(?=^--\n-- Name: )/m, $s;
	my $preamble = shift @entries;
	@entries = grep { !/\A--\n-- Name: [^\n]*; Type: SEQUENCE SET;/ } @entries;
	my $config = $node->safe_psql($db, q{
		SELECT format('%s %L', c::regclass, cond)
		FROM pg_catalog.pg_extension e, unnest(e.extconfig, e.extcondition) AS u(c, cond)
		WHERE e.extname = 'order_mgmt' ORDER BY 1});
	return join("\n", $preamble, sort(@entries),
		"-- extconfig and extcondition of order_mgmt, by table\n$config\n");
}

# The data an upgrade must keep, one line.
my $summary = q{
	SELECT concat_ws(' / ',
		'orders ' || (SELECT string_agg(format('%s:%s/%s/%s', order_no, status, payment_status, delivery_status),
										' ' ORDER BY order_id) FROM order_mgmt.orders),
		'lines ' || (SELECT count(*) FROM order_mgmt.order_line),
		'events ' || (SELECT count(*) FROM order_mgmt.order_event),
		'on_hand ' || (SELECT sum(on_hand) FROM order_mgmt.stock),
		'reserved ' || (SELECT sum(reserved) FROM order_mgmt.stock),
		'buckets ' || (SELECT count(*) FROM order_mgmt.stock),
		'holds ' || (SELECT count(*) FROM order_mgmt.reservation),
		'promo used ' || (SELECT used FROM order_mgmt.promo_code WHERE code = 'TWICE'),
		-- a payment deadline is a due_action row in 0.1.0, the column
		-- alone from 0.2.0 (issue 21): the deadlines as run_due() sees them
		'due ' || (SELECT string_agg(action::text, ',' ORDER BY order_id, action) FROM order_mgmt.due_action
				   WHERE action <> 'payment_timeout'),
		'payment due ' || (SELECT string_agg(format('%s@%s', order_no, payment_due_at AT TIME ZONE 'UTC'),
											 ' ' ORDER BY order_id)
						   FROM order_mgmt.orders WHERE payment_due_at IS NOT NULL
							 AND status IN ('pending', 'confirmed') AND payment_status IN ('unpaid', 'pending')),
		'returns ' || (SELECT string_agg(state::text, ',') FROM order_mgmt.return_request),
		-- the shop's own labels; the built-in ones are the extension's
		-- (an update may add some) and are compared with a fresh install's
		'labels ' || (SELECT count(*) FROM order_mgmt.status_label WHERE NOT builtin),
		'next order ' || (SELECT last_value FROM order_mgmt.order_id_seq))};

my %before;
for my $from (@released)
{
	my $db = "from_$from" =~ s/\W/_/gr;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	$node->safe_psql($db, qq{CREATE EXTENSION order_mgmt VERSION '$from'});
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'order_mgmt'}),
		$from, "$from installs");
	# a shop in every state: unpaid (with its payment deadline), paid,
	# cancelled, shipped, returned; stock over buckets; a used promo code
	$node->safe_psql($db, q{
		SET order_mgmt.clock = '2026-03-02 10:00+00';
		SELECT order_mgmt.create_shop(1, 'Upgrade shop');
		SELECT order_mgmt.upsert_sku(1, 'A', 100, stock_buckets => 4);
		SELECT order_mgmt.set_stock(1, 'A', 40);
		SELECT order_mgmt.upsert_sku(1, 'B', 250);
		SELECT order_mgmt.set_stock(1, 'B', 10);
		SELECT order_mgmt.upsert_customer(1, 'kim', 'kim@example.com');
		SELECT order_mgmt.create_promo(1, 'TWICE', 'amount', 10, usage_limit => 2);
		SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 2}]', customer_id => 'kim',
								   promo_code => 'TWICE', order_no => 'UNPAID');
		SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}]',
								   promo_code => 'TWICE', order_no => 'PAID');
		SELECT order_mgmt.mark_paid(1, order_id) FROM order_mgmt.orders WHERE order_no = 'PAID';
		SELECT order_mgmt.checkout(1, '[{"sku": "B", "qty": 2}]', order_no => 'CANCELLED');
		SELECT order_mgmt.cancel(1, order_id, 'changed_mind') FROM order_mgmt.orders WHERE order_no = 'CANCELLED';
		SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 3}]', order_no => 'SHIPPED');
		SELECT order_mgmt.mark_paid(1, order_id) FROM order_mgmt.orders WHERE order_no = 'SHIPPED';
		SELECT order_mgmt.ship(1, order_id, 'DHL') FROM order_mgmt.orders WHERE order_no = 'SHIPPED';
		SELECT order_mgmt.checkout(1, '[{"sku": "B", "qty": 1}]', order_no => 'RETURNED');
		SELECT order_mgmt.mark_paid(1, order_id) FROM order_mgmt.orders WHERE order_no = 'RETURNED';
		SELECT order_mgmt.ship(1, order_id) FROM order_mgmt.orders WHERE order_no = 'RETURNED';
		SELECT order_mgmt.set_delivery_status(1, order_id, 'arrived') FROM order_mgmt.orders WHERE order_no = 'RETURNED';
		SELECT order_mgmt.request_return(1, order_id, '[{"sku": "B", "qty": 1}]', 'too big')
		FROM order_mgmt.orders WHERE order_no = 'RETURNED';
		SELECT order_mgmt.approve_return(1, return_id) FROM order_mgmt.return_request;
		SELECT order_mgmt.receive_return(1, return_id) FROM order_mgmt.return_request;
		INSERT INTO order_mgmt.status_label (enum_type, value, locale, label)
		VALUES ('payment_status', 'paid', 'ja', '支払済み');
	});
	is($node->safe_psql($db, 'SELECT count(*) FROM order_mgmt.verify()'), '0', "$from: verify() finds nothing before");
	$before{$from} = $node->safe_psql($db, $summary);
	note("$from, before the update: $before{$from}");
	# the new library on the old schema: events_since says what to do
	my (undef, undef, $since_err) = $node->psql($db,
		q{\set VERBOSITY sqlstate
		  SELECT count(*) FROM order_mgmt.events_since(1, 0, 10)});
	like($since_err, qr/ERROR:  55000$/,
		"$from: before the update events_since() asks for ALTER EXTENSION UPDATE (55000)");

	# issue 21: on a schema not yet updated (no orders_payment_due) the
	# library keeps the payment deadline as a due_action row, and run_due()
	# takes it from there
	is($node->safe_psql($db, q{
		SELECT count(*) FROM order_mgmt.due_action d JOIN order_mgmt.orders o USING (shop_id, order_id)
		WHERE d.action = 'payment_timeout' AND o.order_no = 'UNPAID' AND d.due_at = o.payment_due_at;
		BEGIN;
		SET LOCAL order_mgmt.clock = '2026-03-02 11:00+00';
		SELECT order_mgmt.run_due(10);
		SELECT payment_status FROM order_mgmt.orders WHERE order_no = 'UNPAID';
		ROLLBACK;
	}), "1\n1\nfailed", "$from: before the update the payment deadline is a due_action row, which run_due() does");

	like($node->safe_psql($db, qq{
			SELECT path FROM pg_extension_update_paths('order_mgmt')
			WHERE source = '$from' AND target = '$current'}),
		qr/^\Q$from\E--.*\Q$current\E$/, "pg_extension_update_paths offers $from -> $current");
	$node->safe_psql($db, 'ALTER EXTENSION order_mgmt UPDATE');
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'order_mgmt'}),
		$current, "$from: ALTER EXTENSION order_mgmt UPDATE reaches $current");
}

# The fresh install comes after the upgrades: its script creates the
# cluster-wide roles, which would otherwise hide an upgrade script that
# forgets to create a new one.
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION order_mgmt');
is($node->safe_psql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'order_mgmt'}),
	$current, "a fresh install is $current");
my $fresh = normalized_schema('fresh');
my $fresh_file = $node->basedir . '/fresh.normalized.sql';
PostgreSQL::Test::Utils::append_to_file($fresh_file, $fresh);

for my $from (@released)
{
	my $db = "from_$from" =~ s/\W/_/gr;
	my $upgraded = normalized_schema($db);
	my $upgraded_file = $node->basedir . "/$db.normalized.sql";
	PostgreSQL::Test::Utils::append_to_file($upgraded_file, $upgraded);
	if (!is($upgraded eq $fresh ? 'same' : 'different', 'same',
			"$from updated to $current has the schema of a fresh install of $current"))
	{
		my ($diff) = run_command([ 'diff', '-u', $upgraded_file, $fresh_file ]);
		diag("schema after ALTER EXTENSION UPDATE from $from (-) versus a fresh install of $current (+):\n$diff");
		diag("order_mgmt--$from--*.sql must make every change src/sql/ makes");
	}

	is($node->safe_psql($db, $summary), $before{$from}, "$from: the data survived the update");
	is($node->safe_psql($db, 'SELECT count(*) FROM order_mgmt.verify()'), '0', "$from: verify() finds nothing after the update");
	is($node->safe_psql($db, q{SELECT order_mgmt.label('paid'::order_mgmt.payment_status, 'ja-JP')}),
		'支払済み', "$from: the shop's own label survived");
	my $builtin_labels = q{SELECT string_agg(format('%s.%s.%s=%s', enum_type, value, locale, label), ' '
								ORDER BY enum_type, value, locale)
						FROM order_mgmt.status_label WHERE builtin};
	is($node->safe_psql($db, $builtin_labels), $node->safe_psql('fresh', $builtin_labels),
		"$from: the built-in labels are a fresh install's");

	# issue 17 item 10: the return window counts from delivered_at, which the
	# update fills from the event log (the first arrival), and only there
	is($node->safe_psql($db, q{
			SELECT string_agg(format('%s:%s', order_no, delivered_at AT TIME ZONE 'UTC'), ' ' ORDER BY order_id)
			FROM order_mgmt.orders WHERE order_no IN ('SHIPPED', 'RETURNED')}),
		'SHIPPED: RETURNED:2026-03-02 10:00:00', "$from: delivered_at is the first arrival the events record");

	# issue 21: the payment deadline of UNPAID is no due_action row any
	# more, and run_due() times it out from orders.payment_due_at
	is($node->safe_psql($db, q{
		SELECT count(*) FROM order_mgmt.due_action WHERE action = 'payment_timeout';
		BEGIN;
		SET LOCAL order_mgmt.clock = '2026-03-02 11:00+00';
		SELECT order_mgmt.run_due(10);
		SELECT payment_status FROM order_mgmt.orders WHERE order_no = 'UNPAID';
		ROLLBACK;
	}), "0\n1\nfailed", "$from: the payment deadline is the column alone, and run_due() finds it there");

	# the API works on the updated extension, on the old orders too
	my $api = $node->safe_psql($db, q{
		SET order_mgmt.clock = '2026-03-02 10:05+00';
		SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', customer_id => 'kim', order_no => 'AFTER')
			> (SELECT max(order_id) FROM order_mgmt.orders WHERE order_no <> 'AFTER');
		SELECT order_mgmt.cancel(1, order_id) FROM order_mgmt.orders WHERE order_no = 'AFTER';
		SELECT order_mgmt.cancel(1, order_id) FROM order_mgmt.orders WHERE order_no = 'UNPAID';
		SELECT string_agg(format('%s:%s', order_no, status), ' ' ORDER BY order_id)
		FROM order_mgmt.orders WHERE order_no IN ('UNPAID', 'AFTER');
		SELECT used FROM order_mgmt.promo_code WHERE code = 'TWICE';
		SELECT sum(reserved) FROM order_mgmt.stock WHERE sku = 'A';
	});
	# what A still holds is PAID's unit, not yet shipped
	is($api, "t\n\n\nUNPAID:cancelled AFTER:cancelled\n1\n1",
		"$from: after the update a checkout gets a new id, cancels release stock and the promo code");
	# the cancel gave back one of TWICE's two uses: one more, then OM003
	my ($ret, $out, $err) = $node->psql($db, q{
		\set VERBOSITY sqlstate
		SET order_mgmt.clock = '2026-03-02 10:06+00';
		SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', promo_code => 'TWICE') > 0;
		SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', promo_code => 'TWICE');
	}, on_error_stop => 1);
	is($out, 't', "$from: the promo code's last use is taken after the update");
	like($err, qr/ERROR:  OM003$/, "$from: the promo code's limit still holds after the update");
	# the outbox reads events written before the update (transaction 1,
	# first) and after it, by both readers, each exactly once
	is($node->safe_psql($db, q{
		SELECT order_mgmt.register_consumer(1, 'upgraded', from_start => true);
		SELECT (SELECT count(*) FROM order_mgmt.order_event WHERE shop_id = 1) || ' '
			|| (SELECT count(DISTINCT event_id) FROM order_mgmt.events_since(1, 0, 100000)) || ' '
			|| (SELECT count(DISTINCT event_id) FROM order_mgmt.next_events(1, 'upgraded', 100000)) || ' '
			|| (SELECT min(xid)::text FROM order_mgmt.order_event);
	}) =~ s/^t\n//r, do {
		my $n = $node->safe_psql($db, q{SELECT count(*) FROM order_mgmt.order_event WHERE shop_id = 1});
		"$n $n $n 1";
	}, "$from: events_since and a consumer from the start get every event, old ones first");
	is($node->safe_psql($db, 'SELECT count(*) FROM order_mgmt.verify()'), '0', "$from: verify() finds nothing at the end");
}

$node->stop;
done_testing();
