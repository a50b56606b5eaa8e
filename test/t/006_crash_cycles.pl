# Crash cycles under load (issue 19): 16 clients run the stress mix
# (checkout with promo codes and the bucketed hot SKU, pay, cancel, customer
# cancel, reactivate, ship, arrive, return, refund, run_due and plain
# UPDATEs) while the test SIGKILLs the postmaster at a random moment, and in
# every third cycle first SIGKILLs a backend that holds the hot SKU's stock
# rows (the postmaster then restarts every backend itself).  fsync is on.
#
# A call is acknowledged when its COMMIT returned.  Each client runs every
# call as BEGIN; <call>; <the event ids this transaction wrote>; COMMIT
# with its own psql, and records the acknowledged ones with their results
# and event ids.  After each restart:
#   - every acknowledged checkout's order exists with its id, its lines, a
#     reservation for every SKU (stock held) and, with a code, its
#     redemption (code claimed);
#   - every event an acknowledged call wrote exists (every write is an
#     event, so this is every acknowledged effect);
#   - no order is there that no client was told about or was asking for
#     when the server died (the hot backend's open checkout included), and
#     every order is whole (lines and its checkout event);
#   - verify() is empty; pg_amcheck --heapallindexed finds nothing in the
#     extension's tables and indexes;
#   - the background sweeper is running again.
#
# CRASH_CYCLES (default 2) sets the number of cycles; CRASH_LOAD_SECONDS
# (default 3) the longest run of load before a crash.  docs/reference.md
# "Crash safety" has the figures of the last full run (CRASH_CYCLES=10).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use lib 'test/t/lib';
use OmSession;
use POSIX ();
use Time::HiRes qw(sleep time);

my $cycles  = $ENV{CRASH_CYCLES}       || 2;
my $maxload = $ENV{CRASH_LOAD_SECONDS} || 3;
my $nclients = 16;
my $seed = $ENV{CRASH_SEED} || (time() ^ $$);
srand($seed);
note("CRASH_CYCLES=$cycles CRASH_LOAD_SECONDS=$maxload CRASH_SEED=$seed");
my $started = time();
my $parent = $$;

my $db = 'shop';
my $node = PostgreSQL::Test::Cluster->new('crash_cycles');
$node->init;
$node->append_conf('postgresql.conf', qq{
fsync = on
restart_after_crash = on
max_connections = 60
shared_preload_libraries = 'order_mgmt'
order_mgmt.database = '$db'
order_mgmt.sweep_interval = '200ms'
});
$node->start;
$node->safe_psql('postgres', "CREATE DATABASE $db");
# the stress set-up (shop 1, 50 SKUs, S1 hot over 4 buckets, LIMITED and
# OPEN codes, 100 customers, a 2 s payment timeout with auto-cancel), with
# more stock so that the hot SKU lasts the run, and customer self-cancel on
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db),
	'-f', 'test/stress/setup.sql' ], 'the stress set-up');
$node->safe_psql($db, q{
	SELECT order_mgmt.set_stock(1, 'S1', 100000);
	SELECT order_mgmt.update_shop(1, '{"allow_customer_cancel": true}');
	CREATE EXTENSION amcheck;
});

my $work = $node->basedir . '/clients';
mkdir $work or die "mkdir $work: $!";
my $connstr = $node->connstr($db) . ' connect_timeout=5';

# ---------------------------------------------------------------- clients

# One client: until $stop exists, picks an operation, calls it, and appends
# one line per call to its log:
#   ack checkout <order_no> <order_id> <promo|-> <skus> <event ids>
#   ack <op> <order_id> <result> <event ids>
#   doubt checkout <order_no> / doubt <op> <order_id>   (outcome unknown)
#   refused <op> <sqlstate> / bug <op> <error>
sub client
{
	my ($c, $cycle, $stop) = @_;
	srand($seed + 1000 * $cycle + $c);
	open my $log, '>>', "$work/client$c.log" or die;
	$log->autoflush(1);
	my $session = OmSession->new($connstr);
	my @mine;    # acknowledged order ids, newest last
	my $n = 0;
	# until told to stop, or the test is gone
	while (!-e $stop && getppid() == $parent)
	{
		my $r = rand();
		if ($r < 0.45 || !@mine)
		{
			my $no = "k$cycle-$c-" . $n++;
			my @skus = (rand() < 0.35 ? 1 : 2 + int(rand(49)));
			push @skus, 2 + int(rand(49)) if rand() < 0.5 && $skus[-1] != 1;
			@skus = do { my %s; grep { !$s{$_}++ } @skus };
			my $lines = '[' . join(',', map { sprintf('{"sku":"S%d","qty":%d}', $_, 1 + int(rand(3))) } @skus) . ']';
			my $p = rand();
			my $promo = $p < 0.15 ? 'LIMITED' : $p < 0.3 ? 'open' : undef;
			my $cust = 'c' . (1 + int(rand(100)));
			my $sql = sprintf(q{SELECT order_mgmt.checkout(1, '%s', customer_id => '%s', promo_code => %s, order_no => '%s')},
				$lines, $cust, defined $promo ? "'$promo'" : 'NULL', $no);
			my ($st, $res, $ev) = $session->call($sql);
			if ($st eq 'ack')
			{
				print $log "ack checkout $no $res " . ($promo // '-') . ' ' . join(',', map { "S$_" } @skus) . " $ev\n";
				push @mine, $res;
				shift @mine if @mine > 40;
			}
			elsif ($st eq 'down') { sleep(0.2); }
			elsif ($st eq 'doubt') { print $log "doubt checkout $no\n"; sleep(0.2); }
			elsif ($st eq 'refused') { print $log "refused checkout $res\n"; }
			else { print $log "bug checkout $ev\n"; }
			next;
		}
		my $o = $mine[ int(rand(@mine)) ];
		my @ops = (
			[ pay => qq{SELECT order_mgmt.payment_succeeded(1, $o, (SELECT total FROM order_mgmt.orders WHERE shop_id = 1 AND order_id = $o), 'p-$o-$cycle-$n')} ],
			[ cancel => qq{SELECT order_mgmt.cancel(1, $o, 'changed_mind')} ],
			[ customer_cancel => qq{SELECT order_mgmt.customer_cancel(1, $o, (SELECT customer_id FROM order_mgmt.orders WHERE shop_id = 1 AND order_id = $o))} ],
			[ reactivate => qq{SELECT order_mgmt.reactivate(1, $o)} ],
			[ ship => qq{SELECT order_mgmt.ship(1, $o, 'DHL')} ],
			[ arrive => qq{SELECT order_mgmt.set_delivery_status(1, $o, 'arrived')} ],
			[ return => qq{SELECT order_mgmt.request_return(1, $o, (SELECT jsonb_agg(jsonb_build_object('sku', sku, 'qty', 1)) FROM order_mgmt.order_line WHERE shop_id = 1 AND order_id = $o), 'crash test')} ],
			[ refund => qq{SELECT order_mgmt.refund(1, $o, 1)} ],
			[ run_due => q{SELECT order_mgmt.run_due(20)} ],
			[ update => qq{UPDATE order_mgmt.orders SET delivery_status = 'shipped' WHERE shop_id = 1 AND order_id = $o AND payment_status = 'paid' AND status <> 'cancelled' AND delivery_status = 'unfulfilled'} ],
		);
		my ($op, $sql) = @{ $ops[ int(rand(@ops)) ] };
		$n++;
		my ($st, $res, $ev) = $session->call($sql);
		if ($st eq 'ack') { print $log "ack $op $o $res $ev\n"; }
		elsif ($st eq 'down') { sleep(0.2); }
		elsif ($st eq 'doubt') { print $log "doubt $op $o\n"; sleep(0.2); }
		elsif ($st eq 'refused') { print $log "refused $op $res\n"; }
		else { print $log "bug $op $ev\n"; }
	}
	$session->close;
	close $log;
}

sub start_clients
{
	my ($cycle) = @_;
	my $stop = "$work/stop$cycle";
	my @pids;
	for my $c (1 .. $nclients)
	{
		my $pid = fork();
		die "fork: $!" unless defined $pid;
		if ($pid == 0)
		{
			eval { client($c, $cycle, $stop); };
			print STDERR "client $c: $@" if $@;
			POSIX::_exit($@ ? 1 : 0);
		}
		push @pids, $pid;
	}
	return ($stop, @pids);
}

sub stop_clients
{
	my ($stop, @pids) = @_;
	open my $f, '>', $stop or die;
	close $f;
	waitpid($_, 0) for @pids;
}

# ----------------------------------------------------------------- crashes

# After kill -9 of the postmaster its backends (and the sweeper) notice its
# death and exit; until they have, the old shared memory is in use and a
# new postmaster refuses to start.
sub restart
{
	for my $try (1 .. 60)
	{
		return 1 if $node->start(fail_ok => 1);
		# a failed start read the old postmaster.pid: the node is not running
		$node->{_pid} = undef;
		sleep(1);
	}
	BAIL_OUT('the server did not restart after kill -9');
}

# A backend holding the hot SKU: an unfinished checkout of S1 with every
# S1 bucket locked, killed with SIGKILL while clients queue behind it.
sub kill_hot_backend
{
	my ($cycle) = @_;
	my $hot = $node->background_psql($db);
	$hot->query_safe('BEGIN');
	# every S1 bucket first, as a checkout takes them (S1 is the first SKU
	# in lock order), then an unfinished checkout that nobody acknowledges
	$hot->query_safe(q{SELECT count(*) FROM (SELECT FROM order_mgmt.stock WHERE shop_id = 1 AND sku = 'S1'
												ORDER BY bucket FOR UPDATE) s});
	$hot->query_safe(qq{SELECT order_mgmt.checkout(1, '[{"sku": "S1", "qty": 1}]', order_no => 'HOT-$cycle')});
	my $pid = $hot->query_safe('SELECT pg_backend_pid()');
	sleep(0.5 + rand());
	note("cycle $cycle: kill -9 backend $pid holding S1");
	kill 'KILL', $pid;
	eval { $hot->{run}->kill_kill; };
	sleep(0.5);
	# the postmaster resets every backend, the sweeper included, and
	# accepts connections again once recovery is done
	$node->poll_query_until('postgres', 'SELECT true')
	  or BAIL_OUT('no restart after a backend was killed');
}

# ------------------------------------------------------------------ checks

my %acked_no;    # order_no => 1, acknowledged checkouts
my %doubt_no;    # order_no => 1, checkouts in flight at a crash
my ($calls, $acks, $refusals, $doubts) = (0, 0, 0, 0);
my @bugs;

sub read_logs
{
	my ($checkouts, $events) = ("$work/checkouts.tsv", "$work/events.tsv");
	open my $co, '>', $checkouts or die;
	open my $ev, '>', $events or die;
	($calls, $acks, $refusals, $doubts) = (0, 0, 0, 0);
	@bugs = ();
	for my $c (1 .. $nclients)
	{
		open my $log, '<', "$work/client$c.log" or next;
		while (my $l = <$log>)
		{
			chomp $l;
			$calls++;
			my @f = split / /, $l;
			if ($f[0] eq 'ack')
			{
				$acks++;
				my ($order, $ids);
				if ($f[1] eq 'checkout')
				{
					my (undef, undef, $no, $id, $promo, $skus);
					(undef, undef, $no, $id, $promo, $skus, $ids) = @f;
					$acked_no{$no} = 1;
					print $co join("\t", $no, $id, $promo eq '-' ? '\N' : $promo, "{$skus}"), "\n";
					$order = $id;
				}
				else
				{
					$ids = $f[-1];
					$order = $f[1] eq 'run_due' ? undef : $f[2];
				}
				next if $ids eq '-';
				print $ev join("\t", $_, $f[1], $order // '\N'), "\n" for split /,/, $ids;
			}
			elsif ($f[0] eq 'doubt')
			{
				$doubts++;
				$doubt_no{ $f[2] } = 1 if $f[1] eq 'checkout';
			}
			elsif ($f[0] eq 'refused') { $refusals++; }
			elsif ($f[0] eq 'bug') { push @bugs, $l; }
		}
	}
	close $co;
	close $ev;
	return ($checkouts, $events);
}

sub check_after_restart
{
	my ($cycle) = @_;
	my ($checkouts, $events) = read_logs();
	is(join("\n", @bugs), '', "cycle $cycle: no call failed with an unexpected error");
	my $known = "$work/known.tsv";
	open my $k, '>', $known or die;
	print $k "$_\n" for (keys %acked_no, keys %doubt_no);
	close $k;
	my $r = $node->safe_psql($db, qq{
		CREATE TEMP TABLE ack_checkout (order_no text, order_id bigint, promo text, skus text[]);
		\\copy ack_checkout FROM '$checkouts'
		CREATE TEMP TABLE ack_event (event_id bigint, op text, order_id bigint);
		\\copy ack_event FROM '$events'
		CREATE TEMP TABLE known_no (order_no text);
		\\copy known_no FROM '$known'
		SELECT 'missing orders ' || count(*) FROM ack_checkout a
		WHERE NOT EXISTS (SELECT FROM order_mgmt.orders o
						  WHERE o.shop_id = 1 AND o.order_id = a.order_id AND o.order_no = a.order_no);
		SELECT 'orders without their lines ' || count(*) FROM ack_checkout a
		WHERE (SELECT array_agg(sku ORDER BY sku) FROM order_mgmt.order_line l
			   WHERE l.shop_id = 1 AND l.order_id = a.order_id)
			  IS DISTINCT FROM (SELECT array_agg(s ORDER BY s) FROM unnest(a.skus) s);
		SELECT 'lines without stock held ' || count(*) FROM ack_checkout a, unnest(a.skus) s
		WHERE NOT EXISTS (SELECT FROM order_mgmt.reservation r
						  WHERE r.shop_id = 1 AND r.order_id = a.order_id AND r.sku = s);
		SELECT 'codes not claimed ' || count(*) FROM ack_checkout a
		WHERE a.promo IS NOT NULL
		  AND NOT EXISTS (SELECT FROM order_mgmt.promo_redemption p
						  WHERE p.shop_id = 1 AND p.order_id = a.order_id AND p.code_key = lower(a.promo));
		SELECT 'acknowledged events ' || count(*) || ', missing ' || count(*) FILTER (WHERE e.event_id IS NULL)
			|| ', of another order ' || count(*) FILTER (WHERE a.order_id IS NOT NULL AND e.order_id <> a.order_id)
		FROM ack_event a LEFT JOIN order_mgmt.order_event e ON e.shop_id = 1 AND e.event_id = a.event_id;
		SELECT 'unacknowledged orders ' || count(*) FROM order_mgmt.orders
		WHERE shop_id = 1 AND order_no NOT IN (SELECT order_no FROM known_no);
		SELECT 'orders not whole ' || count(*) FROM order_mgmt.orders o
		WHERE shop_id = 1
		  AND (NOT EXISTS (SELECT FROM order_mgmt.order_line l WHERE l.shop_id = 1 AND l.order_id = o.order_id)
			   OR NOT EXISTS (SELECT FROM order_mgmt.order_event e
							  WHERE e.shop_id = 1 AND e.order_id = o.order_id AND e.kind = 'checkout'));
		SELECT 'verify ' || count(*) FROM order_mgmt.verify();
	});
	my ($n_events) = $r =~ /^acknowledged events (\d+)/m;
	$r =~ s/^acknowledged events \d+/acknowledged events N/m;
	is($r, join("\n", 'missing orders 0', 'orders without their lines 0', 'lines without stock held 0',
			'codes not claimed 0', 'acknowledged events N, missing 0, of another order 0',
			'unacknowledged orders 0', 'orders not whole 0', 'verify 0'),
		"cycle $cycle: every acknowledged checkout and event survived (" . scalar(keys %acked_no)
		  . " orders, $n_events events), nothing else is there, verify() is empty");
	if ($r =~ /verify [1-9]/)
	{
		diag($node->safe_psql($db, 'SELECT * FROM order_mgmt.verify() LIMIT 20'));
	}
	my ($out, $err) = ('', '');
	my $amcheck_ok = IPC::Run::run([ 'pg_amcheck', '-h', $node->host, '-p', $node->port,
			'--heapallindexed', '--schema=order_mgmt', $db ], '>', \$out, '2>', \$err);
	ok($amcheck_ok && $out eq '', "cycle $cycle: pg_amcheck --heapallindexed finds nothing in order_mgmt")
	  or diag("pg_amcheck: $out\n$err");
	ok($node->poll_query_until('postgres',
			qq{SELECT count(*) = 1 FROM pg_stat_activity
			   WHERE backend_type = 'order_mgmt sweeper' AND datname = '$db'}),
		"cycle $cycle: the sweeper is running again");
}

# ------------------------------------------------------------------ cycles

my $hot_kills = 0;
for my $cycle (1 .. $cycles)
{
	my ($stop, @pids) = start_clients($cycle);
	sleep(0.5 + rand($maxload));
	if ($cycle % 3 == 1)
	{
		kill_hot_backend($cycle);
		$hot_kills++;
		sleep(0.5 + rand($maxload));
	}
	note("cycle $cycle: kill -9 postmaster");
	$node->kill9;
	# the clients find the server gone, then stop
	sleep(0.5);
	stop_clients($stop, @pids);
	restart();
	check_after_restart($cycle);
}

my $secs = int(time() - $started);
my $summary = sprintf('%d crash cycles (%d postmaster kills, %d hot-backend kills), %d calls: %d acknowledged, %d refused, %d in doubt at a crash; %d orders; %d s',
	$cycles, $cycles, $hot_kills, $calls, $acks, $refusals, $doubts, scalar(keys %acked_no), $secs);
note($summary);
diag("crash cycles: $summary") if $ENV{CRASH_CYCLES};
cmp_ok($acks, '>', 0, 'the clients got calls acknowledged');

$node->stop;
done_testing();
