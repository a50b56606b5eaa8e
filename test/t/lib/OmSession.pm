# A load client's database session for the TAP tests under load
# (006_crash_cycles.pl, 007_upgrade_load.pl): one psql kept open, one call
# at a time, each as
#   BEGIN; <call>; <the event ids this transaction wrote>; COMMIT; marker
# so that the client knows which calls were acknowledged (COMMIT returned)
# and which events they wrote (every write is an event, SPEC §12).
package OmSession;
use strict;
use warnings;

use IPC::Open2 ();

# psql sessions die with the server: writing to them must not kill us
$SIG{PIPE} = 'IGNORE';

# A session for the calls on one shop.  A transaction's events are found
# by order_event.xid (0.2.0, indexed), or with by_xmin by the rows' xmin,
# which a 0.1.0 schema has too (a scan; events a subtransaction wrote
# would be missed, so the check is weaker, never wrong).
sub new
{
	my ($class, $connstr, %opt) = @_;
	my $shop = $opt{shop} // 1;
	my $mine = $opt{by_xmin} ? 'xmin = pg_current_xact_id()::xid' : 'xid = pg_current_xact_id()';
	return bless { connstr => $connstr, events => qq{SELECT 'EV:' || coalesce(string_agg(event_id::text, ',' ORDER BY event_id), '-')
		FROM order_mgmt.order_event WHERE shop_id = $shop AND $mine;} }, $class;
}

# Runs one call.  Returns
#   ('ack', result, event ids 'id,id,...' or '-'): COMMIT returned;
#   ('refused', SQLSTATE): an expected refusal (OMnnn, 22023, 55P03, 40P01,
#     40001, or one in $extra, a regex): nothing was done;
#   ('error', SQLSTATE, text): any other error; nothing was done either;
#   ('down', ''): no server to connect to, nothing was sent;
#   ('doubt', text): the session died on the way, the call may or may not
#     have committed.  psql without a terminal exits when it loses its
#     connection, so a marker means the server answered every statement.
sub call
{
	my ($self, $sql, $extra) = @_;
	if (!$self->{pid})
	{
		$self->{pid} = IPC::Open2::open2($self->{out}, $self->{in}, 'sh', '-c',
			'exec psql -X -q -A -t -v VERBOSITY=sqlstate -d "$0" -f - 2>&1', $self->{connstr});
		$self->{in}->autoflush(1);
		$self->{fresh} = 1;
	}
	my $in = $self->{in};
	print $in "BEGIN;\n$sql;\n$self->{events}\nCOMMIT;\n\\echo \@\@END\@\@\n";
	my ($out, $done) = ('', 0);
	while (my $l = readline($self->{out}))
	{
		if ($l eq "\@\@END\@\@\n") { $done = 1; last; }
		$out .= $l;
	}
	if (!$done)
	{
		my $fresh = $self->{fresh};
		$self->close;
		return ('down', '') if $fresh && $out =~ /connection to server .* failed/;
		return ('doubt', $out =~ s/\n/ | /gr);
	}
	$self->{fresh} = 0;
	if ($out =~ /^(?:psql:\S* )?ERROR:\s+(\w{5})/m)
	{
		my $state = $1;
		return ('refused', $state)
		  if $state =~ /^(?:OM\d{3}|22023|55P03|40P01|40001)$/ || (defined $extra && $state =~ $extra);
		return ('error', $state, $out =~ s/\n/ | /gr);
	}
	my ($res) = $out =~ /\A(.*)$/m;
	my ($ev) = $out =~ /^EV:(.*)$/m;
	return ('error', '', "no event line: $out") unless defined $ev;
	$res = '' if !defined $res || $res =~ /^EV:/;
	$res = '-' if $res eq '';
	return ('ack', $res, $ev);
}

sub close
{
	my ($self) = @_;
	return unless $self->{pid};
	close $self->{in};
	close $self->{out};
	waitpid($self->{pid}, 0);
	delete $self->{pid};
}

1;
