# Upgrade under load (issue 19): ALTER EXTENSION order_mgmt UPDATE from
# 0.1.0 runs while 8 clients keep checking out and paying.  The update
# takes its locks (ALTER TABLE takes ACCESS EXCLUSIVE), the clients wait,
# and a call the update makes fail is retried by the client; nothing is
# lost: every acknowledged checkout exists with its lines and every event
# an acknowledged call wrote is there, verify() is empty after, and the
# clients were served before, during and after the update.  The new library
# serves the 0.1.0 schema until the update has run (om_has_column()).
#
# UPGRADE_LOAD_SECONDS (default 2): seconds of load before and after.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use Time::HiRes qw(sleep time);
use lib 'test/t/lib';
use OmSession;

my $secs = $ENV{UPGRADE_LOAD_SECONDS} || 2;
my $nclients = 8;
my ($current) = slurp_file('order_mgmt.control') =~ /^default_version = '([^']+)'/m
  or die "no default_version in order_mgmt.control";

my $node = PostgreSQL::Test::Cluster->new('upgrade_load');
$node->init;
$node->start;
my $db = 'postgres';
$node->safe_psql($db, q{
	CREATE EXTENSION order_mgmt VERSION '0.1.0';
	SELECT order_mgmt.create_shop(1, 'Upgrade under load');
	SELECT order_mgmt.upsert_sku(1, 'S' || g, 10 + g, stock_buckets => CASE WHEN g = 1 THEN 4 END)
	FROM generate_series(1, 10) g;
	SELECT order_mgmt.set_stock(1, 'S' || g, 100000) FROM generate_series(1, 10) g;
	SELECT order_mgmt.upsert_customer(1, 'c' || g, 'c' || g || '@example.com') FROM generate_series(1, 20) g;
	SELECT order_mgmt.create_promo(1, 'OPEN', 'amount', 5);
});

my $work = $node->basedir . '/clients';
mkdir $work or die "mkdir $work: $!";
my $connstr = $node->connstr($db);
my $stop = "$work/stop";
my $parent = $$;

# A client: checkouts (the hot SKU S1 in half of them, the code in a
# quarter) and payments of its own orders, until told to stop; one line per
# call: "<time> ack checkout <order_no> <order_id> <skus> <event ids>",
# "<time> ack pay <order_id> <result> <event ids>", "<time> error <state> <text>"
# (retried), "<time> doubt ..." (never expected here).
sub client
{
	my ($c) = @_;
	srand($c);
	my $session = OmSession->new($connstr, by_xmin => 1);
	open my $log, '>', "$work/client$c.log" or die;
	$log->autoflush(1);
	my ($n, @mine) = (0);
	while (!-e $stop && getppid() == $parent)
	{
		my ($what, $sql, $no, $skus);
		if (rand() < 0.7 || !@mine)
		{
			$no = "u$c-" . $n++;
			$skus = rand() < 0.5 ? 'S1' : 'S' . (2 + int(rand(9)));
			$sql = sprintf(q{SELECT order_mgmt.checkout(1, '[{"sku": "%s", "qty": %d}]', customer_id => 'c%d', promo_code => %s, order_no => '%s')},
				$skus, 1 + int(rand(3)), 1 + int(rand(20)), rand() < 0.25 ? q{'open'} : 'NULL', $no);
			$what = 'checkout';
		}
		else
		{
			my $o = $mine[ int(rand(@mine)) ];
			$sql = qq{SELECT order_mgmt.mark_paid(1, $o)};
			$what = "pay $o";
		}
		my ($st, $res, $ev) = $session->call($sql);
		my $t = sprintf('%.3f', time());
		if ($st eq 'ack' && $what eq 'checkout')
		{
			print $log "$t ack checkout $no $res $skus $ev\n";
			push @mine, $res;
		}
		elsif ($st eq 'ack') { print $log "$t ack $what $res $ev\n"; }
		elsif ($st eq 'refused') { print $log "$t refused $res\n"; }
		elsif ($st eq 'error') { print $log "$t error $res $ev\n"; sleep(0.05); }
		else { print $log "$t $st $what $res\n"; sleep(0.05); }
	}
	$session->close;
	close $log;
}

my @pids;
for my $c (1 .. $nclients)
{
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		eval { client($c); };
		print STDERR "client $c: $@" if $@;
		POSIX::_exit($@ ? 1 : 0);
	}
	push @pids, $pid;
}

sleep($secs);
# the backup docs/reference.md "Upgrades" asks for, taken under load
my $backup = $node->basedir . '/before_update.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $backup, '-d', $connstr ], 'a backup before the update, under load');
my $t0 = time();
# a deadlock while the update takes its locks changes nothing: again, as
# an operator would (the upgrade script's first statement locks every table)
my ($tries, $updated) = (0, 0);
while (!$updated && $tries < 5)
{
	$tries++;
	my ($rc, $out, $err) = $node->psql($db, 'ALTER EXTENSION order_mgmt UPDATE');
	$updated = $rc == 0;
	die "ALTER EXTENSION order_mgmt UPDATE: $err" if !$updated && $err !~ /deadlock detected/;
}
ok($updated, "ALTER EXTENSION order_mgmt UPDATE under load ($tries tries)");
my $t1 = time();
note(sprintf('ALTER EXTENSION order_mgmt UPDATE took %.2f s under load', $t1 - $t0));
sleep($secs);
open my $f, '>', $stop or die;
close $f;
waitpid($_, 0) for @pids;

is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'order_mgmt'}),
	$current, "the update under load reached $current");

# what the clients were told
my ($before, $during, $after, $refused, @errors, @late, @odd) = (0, 0, 0, 0);
open my $co, '>', "$work/checkouts.tsv" or die;
open my $evf, '>', "$work/events.tsv" or die;
for my $c (1 .. $nclients)
{
	open my $log, '<', "$work/client$c.log" or die;
	while (my $l = <$log>)
	{
		chomp $l;
		my ($t, $st, @f) = split / /, $l;
		if ($st eq 'ack')
		{
			$t < $t0 ? $before++ : $t <= $t1 ? $during++ : $after++;
			if ($f[0] eq 'checkout')
			{
				print $co join("\t", @f[ 1 .. 3 ]), "\n";
				print $evf "$_\n" for grep { $_ ne '-' } split /,/, $f[4];
			}
			else
			{
				print $evf "$_\n" for grep { $_ ne '-' } split /,/, $f[-1];
			}
		}
		elsif ($st eq 'refused') { $refused++; }
		elsif ($st eq 'error')
		{
			push @errors, $l;
			# the update's window, with a margin for the last statement in flight
			push @late, $l if $t > $t1 + 1;
		}
		else { push @odd, $l; }
	}
}
close $co;
close $evf;
note(sprintf('acknowledged: %d before, %d during, %d after the update; %d refused; %d errors retried',
	$before, $during, $after, $refused, scalar @errors));
my %states;
$states{ (split / /, $_)[2] }++ for @errors;
note("errors retried, by SQLSTATE: " . join(', ', map { "$_ $states{$_}" } sort keys %states));
note("error retried: $_") for @errors[ 0 .. ($#errors > 9 ? 9 : $#errors) ];
cmp_ok($before, '>', 0, 'checkouts acknowledged before the update');
cmp_ok($after, '>', 0, 'checkouts acknowledged after the update');
is(join("\n", @late), '', 'no call fails once the update is done');
is(join("\n", @odd), '', 'no session was lost');

is($node->safe_psql($db, qq{
	CREATE TEMP TABLE ack_checkout (order_no text, order_id bigint, sku text);
	\\copy ack_checkout FROM '$work/checkouts.tsv'
	CREATE TEMP TABLE ack_event (event_id bigint);
	\\copy ack_event FROM '$work/events.tsv'
	SELECT 'acknowledged checkouts lost ' || count(*) FROM ack_checkout a
	WHERE NOT EXISTS (SELECT FROM order_mgmt.orders o JOIN order_mgmt.order_line l USING (shop_id, order_id)
					  WHERE o.shop_id = 1 AND o.order_id = a.order_id AND o.order_no = a.order_no AND l.sku = a.sku);
	SELECT 'acknowledged events lost ' || count(*) FROM ack_event a
	WHERE NOT EXISTS (SELECT FROM order_mgmt.order_event e WHERE e.shop_id = 1 AND e.event_id = a.event_id);
	SELECT 'orders nobody was told about ' || count(*) FROM order_mgmt.orders o
	WHERE NOT EXISTS (SELECT FROM ack_checkout a WHERE a.order_no = o.order_no);
	SELECT 'verify ' || count(*) FROM order_mgmt.verify();
}), join("\n", 'acknowledged checkouts lost 0', 'acknowledged events lost 0',
		'orders nobody was told about 0', 'verify 0'),
	'nothing acknowledged was lost, nothing else is there, verify() is empty after the update');

# Going back (docs/reference.md "Upgrades"): the backup restored into a
# database that has the 0.1.0 schema, served by the installed library.
$node->safe_psql($db, 'CREATE DATABASE restored');
$node->safe_psql('restored', q{CREATE EXTENSION order_mgmt VERSION '0.1.0'});
$node->command_ok([ 'pg_restore', '--data-only', '-d', $node->connstr('restored'), $backup ],
	'the backup restores into a 0.1.0 schema');
is($node->safe_psql('restored', q{
	SELECT extversion FROM pg_extension WHERE extname = 'order_mgmt';
	SELECT count(*) > 0 FROM order_mgmt.orders;
	SELECT count(*) FROM order_mgmt.verify();
	SELECT order_mgmt.checkout(1, '[{"sku": "S1", "qty": 1}]') > max(order_id) FROM order_mgmt.orders;
	SELECT count(*) FROM order_mgmt.verify();
}), "0.1.0\nt\n0\nt\n0", 'the restored 0.1.0 shop has its orders, verify() empty, and takes a new checkout');

$node->stop;
done_testing();
