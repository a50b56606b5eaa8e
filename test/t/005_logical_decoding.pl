# Logical decoding of the event log (SPEC §12, docs/events.md): with
# wal_level = logical, a slot streams every committed order_event row
# exactly once, each transaction's events together at its commit, in commit
# order whatever the event ids, and nothing of a transaction that rolled
# back or was never committed.  Two plugins: test_decoding (text, every
# table) and pgoutput (binary, the tables of publication order_mgmt_events;
# what Debezium reads), through SQL and through pg_recvlogical.
use strict;
use warnings;

use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('logical');
# wal_level = logical, max_wal_senders = 10, max_replication_slots = 10
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', 'max_prepared_transactions = 5');
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION order_mgmt;
	SELECT order_mgmt.create_shop(1, 'Logical shop');
	SELECT order_mgmt.upsert_sku(1, 'A', 100);
	SELECT order_mgmt.upsert_sku(1, 'B', 50);
	SELECT order_mgmt.set_stock(1, 'A', 20);
	SELECT order_mgmt.set_stock(1, 'B', 20);
	CREATE PUBLICATION order_mgmt_events FOR TABLE order_mgmt.order_event
		WITH (publish = 'insert');
	SELECT 'td' FROM pg_create_logical_replication_slot('events_td', 'test_decoding');
	SELECT 'po' FROM pg_create_logical_replication_slot('events_pgoutput', 'pgoutput');
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM order_mgmt.order_event'),
	'0', 'no event before the slots exist');

# test_decoding's text, one transaction per BEGIN ... COMMIT block:
# { xid, ids => [event_id ...], ops => [INSERT ...], lines => [all lines] }
sub parse_test_decoding
{
	my ($text) = @_;
	my (@txns, $cur);
	foreach my $line (split /\n/, $text)
	{
		if ($line =~ /^BEGIN (\d+)$/)
		{
			$cur = { xid => $1, ids => [], ops => [], lines => [], xid8 => [] };
		}
		elsif ($line =~ /^COMMIT (\d+)$/)
		{
			die "COMMIT $1 ends transaction $cur->{xid}" unless $cur->{xid} eq $1;
			push @txns, $cur;
			undef $cur;
		}
		else
		{
			die "a change outside BEGIN ... COMMIT: $line" unless $cur;
			push @{ $cur->{lines} }, $line;
			next unless $line =~ /^table order_mgmt\.order_event: (\w+): /;
			push @{ $cur->{ops} }, $1;
			push @{ $cur->{ids} }, $line =~ /\bevent_id\[bigint\]:(\d+)/;
			push @{ $cur->{xid8} }, $1 if $line =~ /\bxid\[xid8\]:'?(\d+)/;
		}
	}
	die 'a transaction without COMMIT' if $cur;
	return @txns;
}

# Consumes the test_decoding slot; every transaction it ever returned is kept
# in @td_all for the final exactly-once check.
my @td_all;
sub td_changes
{
	my @txns = parse_test_decoding($node->safe_psql('postgres',
		q{SELECT data FROM pg_logical_slot_get_changes('events_td', NULL, NULL)}));
	push @td_all, @txns;
	return @txns;
}

sub ids { return join ',', map { @{ $_->{ids} } } @_; }
sub with_events { return grep { @{ $_->{ids} } } @_; }

sub table_ids
{
	my ($where) = @_;
	$where = $where ? "WHERE $where" : '';
	return $node->safe_psql('postgres',
		"SELECT coalesce(string_agg(event_id::text, ',' ORDER BY event_id), '') FROM order_mgmt.order_event $where");
}

sub order_ids
{
	my ($order_no) = @_;
	return table_ids("order_id = (SELECT order_id FROM order_mgmt.orders WHERE order_no = '$order_no')");
}

#
# a. Every committed event exactly once, as an INSERT; nothing rolled back.
#
$node->safe_psql('postgres', q{
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 2}]', order_no => 'L-1');
	SELECT order_mgmt.payment_succeeded(1, (SELECT order_id FROM order_mgmt.orders WHERE order_no = 'L-1'), 200, 'p-1');
	SELECT order_mgmt.cancel(1, (SELECT order_id FROM order_mgmt.orders WHERE order_no = 'L-1'));
});
# an event written, then rolled back: its id is a gap
my $rolled_back_id = $node->safe_psql('postgres', q{
	BEGIN;
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', order_no => 'RB-1') \g /dev/null
	SELECT max(event_id) FROM order_mgmt.order_event;
	ROLLBACK;
});
# a failed call, and a transaction whose second call fails after the first
# wrote its events
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 100}]', order_no => 'F-1')});
like($stderr, qr/insufficient stock/, 'a checkout beyond stock fails');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	BEGIN;
	SELECT order_mgmt.checkout(1, '[{"sku": "B", "qty": 1}]', order_no => 'F-2');
	SELECT order_mgmt.cancel(1, 999999);
	COMMIT;
});
like($stderr, qr/order 999999 does not exist/, 'a transaction whose second call fails');
$node->safe_psql('postgres', q{
	SELECT order_mgmt.checkout(1, '[{"sku": "B", "qty": 1}]', order_no => 'L-2');
});

my @a_txns = td_changes();
my @a_lines = map { @{ $_->{lines} } } @a_txns;
# docs/events.md shows the payment's transaction
my ($pay) = grep { grep { /'payment'/ } @{ $_->{lines} } } @a_txns;
note join "\n", "BEGIN $pay->{xid}", (grep { /^table order_mgmt\.order_event:/ } @{ $pay->{lines} }), "COMMIT $pay->{xid}";
is(ids(@a_txns), table_ids(), 'test_decoding: every committed event once, in order');
is(join(',', map { scalar @{ $_->{ids} } } with_events(@a_txns)), '1,2,3,1',
	'one transaction per call: checkout 1 event, payment 2, cancel 3, checkout 1');
is(join(',', do { my %s; grep { !$s{$_}++ } map { @{ $_->{ops} } } @a_txns }), 'INSERT',
	'order_event changes are INSERTs only');
ok(!grep({ $_ eq $rolled_back_id } split /,/, ids(@a_txns)),
	"the rolled-back event $rolled_back_id is a gap, not decoded");
is(scalar(grep { /'(RB-1|F-1|F-2)'/ } @a_lines), 0,
	'no change of any table from the rolled-back or failed transactions');

#
# b. Commit order: session 1 writes first and commits last.
#
my $s1 = $node->background_psql('postgres');
my $s2 = $node->background_psql('postgres');
$s1->query_safe('BEGIN');
my $o1 = $s1->query_safe(q{SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', order_no => 'S-1')});
$s1->query_safe(qq{SELECT order_mgmt.payment_succeeded(1, $o1, 100, 'p-s1')});
my $x1 = $s1->query_safe('SELECT pg_current_xact_id()::xid');
# session 2 (another SKU: no row in common) writes later and commits first,
# in two transactions
my ($o2, $x2) = split /\|/, $s2->query_safe(
	q{SELECT order_mgmt.checkout(1, '[{"sku": "B", "qty": 1}]', order_no => 'S-2'), pg_current_xact_id()::xid});
my $x2pay = (split /\|/, $s2->query_safe(
	qq{SELECT order_mgmt.payment_succeeded(1, $o2, 50, 'p-s2'), pg_current_xact_id()::xid}))[1];
$s1->query_safe('COMMIT');
$s1->quit;
$s2->quit;

my @b_txns = with_events(td_changes());
is(join(' ', map { $_->{xid} } @b_txns), "$x2 $x2pay $x1",
	'decoded in commit order: session 2 (checkout, then payment), then session 1');
is(ids($b_txns[0], $b_txns[1]) . ' ' . ids($b_txns[2]), order_ids('S-2') . ' ' . order_ids('S-1'),
	'each block holds its own transaction\'s events, as in the table');
cmp_ok((split /,/, ids($b_txns[0]))[0], '>', (split /,/, ids($b_txns[2]))[-1],
	'session 2\'s events all have higher ids than session 1\'s, yet arrive first');

#
# c. pgoutput: what Debezium reads.  Then pg_recvlogical in the background.
#

# pgoutput protocol version 1 messages (B, C, R, Y, I) from raw bytes; with
# $sep, each message is followed by it (pg_recvlogical writes a newline).
sub parse_pgoutput
{
	my ($bytes, $sep) = @_;
	my @msgs;
	my $p = 0;
	my $cstr = sub {
		my $end = index($bytes, "\0", $p);
		my $s = substr($bytes, $p, $end - $p);
		$p = $end + 1;
		return $s;
	};
	my $take = sub { my ($n, $fmt) = @_; my $v = unpack($fmt, substr($bytes, $p, $n)); $p += $n; return $v; };
	while ($p < length $bytes)
	{
		my $t = substr($bytes, $p++, 1);
		my %m = (type => $t);
		if ($t eq 'B')
		{
			$p += 16;								# final LSN, commit time
			$m{xid} = $take->(4, 'N');
		}
		elsif ($t eq 'C')
		{
			$p += 25;								# flags, LSNs, commit time
		}
		elsif ($t eq 'R')
		{
			$m{relid} = $take->(4, 'N');
			$m{nspname} = $cstr->();
			$m{relname} = $cstr->();
			$p += 1;								# replica identity
			my $natts = $take->(2, 'n');
			for (1 .. $natts)
			{
				$p += 1;							# flags
				push @{ $m{columns} }, $cstr->();
				$p += 8;							# type oid, typmod
			}
		}
		elsif ($t eq 'Y')
		{
			$m{typid} = $take->(4, 'N');
			$m{typname} = $cstr->() . '.' . $cstr->();
		}
		elsif ($t eq 'I')
		{
			$m{relid} = $take->(4, 'N');
			die 'Insert without N' unless substr($bytes, $p++, 1) eq 'N';
			my $ncols = $take->(2, 'n');
			for (1 .. $ncols)
			{
				my $kind = substr($bytes, $p++, 1);
				if ($kind eq 't')
				{
					my $len = $take->(4, 'N');
					push @{ $m{values} }, substr($bytes, $p, $len);
					$p += $len;
				}
				else
				{
					push @{ $m{values} }, undef;	# n: null
				}
			}
		}
		else
		{
			die "unexpected pgoutput message type $t";
		}
		push @msgs, \%m;
		if (defined $sep)
		{
			die 'message not followed by the separator' unless substr($bytes, $p, length $sep) eq $sep;
			$p += length $sep;
		}
	}
	return @msgs;
}

# "order_mgmt.order_event R=1 I=... txns=xid,xid,... ids=..."
sub summarize_pgoutput
{
	my (%rel, %count, @xids, @ids);
	foreach my $m (@_)
	{
		$count{ $m->{type} }++;
		push @xids, $m->{xid} if $m->{type} eq 'B';
		if ($m->{type} eq 'R')
		{
			$rel{ $m->{relid} } = $m;
		}
		elsif ($m->{type} eq 'I')
		{
			my $r = $rel{ $m->{relid} } or die 'Insert before its Relation';
			my ($col) = grep { $r->{columns}[$_] eq 'event_id' } 0 .. $#{ $r->{columns} };
			push @ids, $m->{values}[$col];
		}
	}
	return {
		relations => join(' ', map { "$_->{nspname}.$_->{relname}" } values %rel),
		count => \%count,
		xids => join(',', @xids),
		ids => join(',', @ids),
	};
}

my $pgoutput_opts = q{'proto_version', '1', 'publication_names', 'order_mgmt_events'};
my @peeked = parse_pgoutput(pack('H*', join('', split /\n/, $node->safe_psql('postgres',
	"SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('events_pgoutput', NULL, NULL, $pgoutput_opts)"))));
my $po = summarize_pgoutput(@peeked);
note "pgoutput messages: ", join(" ", map { "$_=$po->{count}{$_}" } sort keys %{ $po->{count} });
my $n_events = $node->safe_psql('postgres', 'SELECT count(*) FROM order_mgmt.order_event');
is($po->{relations}, 'order_mgmt.order_event', 'pgoutput: one Relation message, naming order_mgmt.order_event only');
is(($po->{count}{I} // 0) . ' ' . ($po->{count}{B} // 0) . ' ' . ($po->{count}{C} // 0),
	"$n_events 7 7",
	'pgoutput: an Insert per event; a BEGIN and COMMIT per transaction with events, none for the others');
is($po->{ids}, ids(@td_all), 'pgoutput: the same event ids as test_decoding, in the same order');
is($po->{xids}, join(',', map { $_->{xid} } with_events(@td_all)),
	'pgoutput: the same transactions in the same (commit) order');

# the same slot through the replication protocol, as a consumer reads it
my $endpos = $node->lsn('insert');
my $recv = $node->pg_recvlogical_upto('postgres', 'events_pgoutput', $endpos, $PostgreSQL::Test::Utils::timeout_default,
	proto_version => '1', publication_names => 'order_mgmt_events');
is(summarize_pgoutput(parse_pgoutput($recv, "\n"))->{ids}, $po->{ids},
	'pg_recvlogical --plugin=pgoutput streams the same Insert messages');

# pg_recvlogical with test_decoding, in the background, writing a file
my $file = $node->basedir . '/events_recv.txt';
my @recvlogical = ($node->installed_command('pg_recvlogical'),
	'--dbname', $node->connstr('postgres'), '--slot', 'events_recv');
$node->command_ok([ @recvlogical, '--create-slot', '--plugin', 'test_decoding' ],
	'pg_recvlogical --create-slot --plugin test_decoding');
my ($recv_out, $recv_err) = ('', '');
my $recv_h = IPC::Run::start([ @recvlogical, '--start', '--no-loop', '--file', $file ],
	'>', \$recv_out, '2>', \$recv_err);
$node->poll_query_until('postgres',
	q{SELECT active FROM pg_replication_slots WHERE slot_name = 'events_recv'})
  or die 'pg_recvlogical did not start streaming';
my $before = $node->safe_psql('postgres', 'SELECT max(event_id) FROM order_mgmt.order_event');
my $last_xid = (split /\n/, $node->safe_psql('postgres', q{
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', order_no => 'R-1') \g /dev/null
	SELECT pg_current_xact_id()::xid
		FROM order_mgmt.payment_succeeded(1, (SELECT order_id FROM order_mgmt.orders WHERE order_no = 'R-1'), 100, 'p-r1');
}))[-1];
my $expected = table_ids("event_id > $before");
# wait (no fixed sleep) until the file holds the last transaction's COMMIT
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
usleep(50_000) until (-f $file && slurp_file($file) =~ /^COMMIT $last_xid$/m) || time > $deadline;
$recv_h->signal('INT');
ok($recv_h->finish, 'pg_recvlogical stops cleanly on SIGINT');
my @file_txns = parse_test_decoding(slurp_file($file));
is(ids(@file_txns), $expected, 'pg_recvlogical -f FILE (test_decoding) holds the inserts of the writes since, each once');

#
# d. Prepared transactions: decoded at COMMIT PREPARED, never after ROLLBACK
#    PREPARED (a test_decoding slot without two-phase decoding).
#
td_changes();			# what section c wrote
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', order_no => 'P-1');
	SELECT order_mgmt.checkout(1, '[{"sku": "A", "qty": 1}]', order_no => 'P-1b');
	PREPARE TRANSACTION 'om_p1';
	BEGIN;
	SELECT order_mgmt.checkout(1, '[{"sku": "B", "qty": 1}]', order_no => 'P-2');
	PREPARE TRANSACTION 'om_p2';
});
is(scalar(with_events(td_changes())), 0, 'prepared: nothing decoded yet');
$node->safe_psql('postgres', q{COMMIT PREPARED 'om_p1'; ROLLBACK PREPARED 'om_p2'});
my @d_txns = with_events(td_changes());
is(scalar(@d_txns) . ':' . ids(@d_txns), '1:' . table_ids(
		q{order_id IN (SELECT order_id FROM order_mgmt.orders WHERE order_no IN ('P-1', 'P-1b'))}),
	'COMMIT PREPARED: its events, as one transaction; ROLLBACK PREPARED: none');
is($node->safe_psql('postgres', q{SELECT count(*) FROM order_mgmt.orders WHERE order_no = 'P-2'}), '0',
	'the rolled-back prepared order does not exist');

#
# e. Every event exactly once over the whole run; the invariants hold.
#
is(join(',', sort { $a <=> $b } split /,/, ids(@td_all)), table_ids(),
	'test_decoding returned every event of the run, each once');
SKIP:
{
	skip 'order_event has no xid column', 1 unless $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'order_mgmt.order_event'::regclass AND attname = 'xid'});
	is(join(',', map { my $t = $_; grep { $_ ne $t->{xid} } @{ $t->{xid8} } } @td_all), '',
		'order_event.xid is the transaction the slot decodes it in');
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'no prepared transaction left');
is($node->safe_psql('postgres', 'SELECT count(*) FROM order_mgmt.verify()'), '0', 'verify() finds nothing');
# a slot is active until its walsender has seen pg_recvlogical go
$node->poll_query_until('postgres', 'SELECT NOT bool_or(active) FROM pg_replication_slots')
  or die 'a slot is still active';
$node->safe_psql('postgres', q{
	SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots;
	DROP PUBLICATION order_mgmt_events;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0', 'the slots are dropped');

$node->stop;
done_testing();
