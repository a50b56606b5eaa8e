# Roles are not reused blindly (issue 19).  order_mgmt_app, _admin and
# _report are cluster-wide: the install script creates them NOLOGIN when
# absent, and reuses an existing role of that name only if it is as
# harmless.  A role that can log in, holds SUPERUSER, CREATEROLE, CREATEDB,
# REPLICATION or BYPASSRLS, or is a member of another role stops CREATE
# EXTENSION and ALTER EXTENSION UPDATE with 55000, naming the role and the
# attribute, and nothing is created.  Roles are shared by every database of
# the cluster, so this needs a cluster of its own (the regression suite
# shares one).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my ($current) = slurp_file('order_mgmt.control') =~ /^default_version = '([^']+)'/m
  or die "no default_version in order_mgmt.control";

my $node = PostgreSQL::Test::Cluster->new('roles');
$node->init;
$node->start;

# What an install leaves in database $db: extension/schema/roles.
sub installed
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'order_mgmt')
				 || '/' || (SELECT count(*) FROM pg_namespace WHERE nspname = 'order_mgmt')
				 || '/' || coalesce((SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles
									 WHERE rolname LIKE 'order\_mgmt\_%'), '')});
}

# Runs $sql in $db with the SQLSTATE shown; returns stderr.
sub fails
{
	my ($db, $sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, "\\set VERBOSITY verbose\n$sql");
	isnt($ret, 0, "$sql fails");
	return $err;
}

# Each attribute stops the install.
foreach my $attr (qw(LOGIN SUPERUSER CREATEROLE CREATEDB REPLICATION BYPASSRLS))
{
	my $with = $attr eq 'LOGIN' ? 'LOGIN' : "NOLOGIN $attr";
	$node->safe_psql('postgres', "CREATE ROLE order_mgmt_app $with");
	my $err = fails('postgres', 'CREATE EXTENSION order_mgmt;');
	like($err,
		qr/ERROR:  55000: cannot install order_mgmt: role "order_mgmt_app" already exists with $attr\n/,
		"$attr: 55000 naming the role and the attribute");
	like($err, qr/DETAIL:  Role order_mgmt_app has $attr\. Roles are shared by every database/,
		"$attr: DETAIL");
	like($err,
		qr/HINT:  Drop or rename the role, or remove the attributes \(ALTER ROLE order_mgmt_app NO$attr\), then retry\./,
		"$attr: HINT says what to run");
	is(installed('postgres'), '0/0/order_mgmt_app', "$attr: nothing created");
	$node->safe_psql('postgres', 'DROP ROLE order_mgmt_app');
}

# Several attributes are named together; the hint removes them all.
$node->safe_psql('postgres', 'CREATE ROLE order_mgmt_admin LOGIN CREATEDB BYPASSRLS');
like(fails('postgres', 'CREATE EXTENSION order_mgmt;'),
	qr/already exists with LOGIN, CREATEDB, BYPASSRLS\n(.|\n)*ALTER ROLE order_mgmt_admin NOLOGIN NOCREATEDB NOBYPASSRLS\)/,
	'several attributes: all named, all removed by the hint');
is(installed('postgres'), '0/0/order_mgmt_admin', 'several attributes: nothing created');
$node->safe_psql('postgres', 'DROP ROLE order_mgmt_admin');

# A member of another role would hand that role's rights to everyone
# granted it.
$node->safe_psql('postgres', q{
	CREATE ROLE order_mgmt_report;
	CREATE ROLE om_writer;
	GRANT om_writer TO order_mgmt_report;
	GRANT pg_read_all_data TO order_mgmt_report;
});
my $err = fails('postgres', 'CREATE EXTENSION order_mgmt;');
like($err,
	qr/ERROR:  55000: cannot install order_mgmt: role "order_mgmt_report" is a member of om_writer, pg_read_all_data\n/,
	'membership: 55000 naming the roles');
like($err, qr/HINT:  Drop or rename the role, or REVOKE om_writer, pg_read_all_data FROM order_mgmt_report, then retry\./,
	'membership: HINT');
is(installed('postgres'), '0/0/order_mgmt_report', 'membership: nothing created');
$node->safe_psql('postgres', 'REVOKE om_writer, pg_read_all_data FROM order_mgmt_report');

# A harmless existing role is reused, with its members: granting a role is
# what it is for (an administrator may have done it before a reinstall).
$node->safe_psql('postgres', q{
	CREATE ROLE order_mgmt_app NOLOGIN;
	CREATE ROLE alice LOGIN;
	GRANT order_mgmt_app TO alice;
	CREATE EXTENSION order_mgmt;
});
is(installed('postgres'), '1/1/order_mgmt_admin,order_mgmt_app,order_mgmt_report',
	'harmless roles are reused, the missing ones created');
is($node->safe_psql('postgres',
		q{SELECT string_agg(rolname || ':' || rolcanlogin, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'order\_mgmt\_%'}),
	'order_mgmt_admin:false,order_mgmt_app:false,order_mgmt_report:false',
	'the roles cannot log in');

# Roles are cluster-wide: a second database reuses them, and membership
# granted for the first is app rights in the second.  docs/reference.md
# ("Roles") says how to keep databases apart (CONNECT).
$node->safe_psql('postgres', 'CREATE DATABASE shop2');
$node->safe_psql('shop2', 'CREATE EXTENSION order_mgmt');
is(installed('shop2'), '1/1/order_mgmt_admin,order_mgmt_app,order_mgmt_report',
	'a second database reuses the roles');
is($node->safe_psql('shop2',
		q{SELECT has_function_privilege('alice', 'order_mgmt.cancel(bigint, bigint, order_mgmt.cancel_reason, text, order_mgmt.cancel_source)', 'EXECUTE')}),
	't', 'a member of order_mgmt_app has app rights in every database with the extension');
is($node->safe_psql('shop2', q{SELECT has_database_privilege('alice', 'shop2', 'CONNECT')}),
	't', 'unless CONNECT keeps it out (granted to PUBLIC by default)');

# The update checks the roles too: 0.1.0 installed, then a role changed.
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', q{CREATE EXTENSION order_mgmt VERSION '0.1.0'});
$node->safe_psql('old', 'ALTER ROLE order_mgmt_admin CREATEDB');
$err = fails('old', 'ALTER EXTENSION order_mgmt UPDATE;');
like($err,
	qr/ERROR:  55000: cannot update order_mgmt: role "order_mgmt_admin" already exists with CREATEDB\n/,
	'the update refuses a role with CREATEDB');
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'order_mgmt'}),
	'0.1.0', 'and leaves 0.1.0 as it was');
$node->safe_psql('old', 'ALTER ROLE order_mgmt_admin NOCREATEDB');
$node->safe_psql('old', 'ALTER EXTENSION order_mgmt UPDATE');
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'order_mgmt'}),
	$current, 'with the attribute removed the update goes through');

# A re-install after DROP EXTENSION reuses the roles the first made.
$node->safe_psql('postgres', 'DROP EXTENSION order_mgmt CASCADE');
$node->safe_psql('postgres', 'CREATE EXTENSION order_mgmt');
is(installed('postgres'), '1/1/order_mgmt_admin,order_mgmt_app,order_mgmt_report',
	'a re-install reuses the roles');

$node->stop;
done_testing();
