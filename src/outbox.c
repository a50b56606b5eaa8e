/*-------------------------------------------------------------------------
 *
 * outbox.c
 *	  Reading the event log as an outbox (SPEC §12): events_since, the
 *	  named consumers of next_events, and a shop's NOTIFY channel
 *	  (enable_notify; events.c sends the wake-ups).
 *
 * Both readers rest on one fact PostgreSQL guarantees: a transaction whose
 * id is below the xmin of a snapshot has ended, and one the snapshot sees
 * as committed stays so.  Every event row records its writer's top-level
 * transaction id (order_event.xid), so no lock is taken anywhere, by
 * writers or readers, and nothing another role does can stall or mislead
 * them.
 *
 * events_since(shop_id, after_event_id, max) is stateless: it returns the
 * events of transactions below the xmin of the caller's snapshot, in
 * (xid, event_id) order, after the position of after_event_id.  Every
 * transaction that could still commit an event has an id at or above that
 * xmin, so it sorts after everything returned: nothing is ever skipped.
 * The price is delay: an event waits until every transaction older than
 * its own has ended, in any shop and any database of the cluster.
 *
 * next_events(shop_id, consumer, max) is PgQ's design: a named consumer's
 * position is a snapshot, and a batch is the events visible in a newer
 * snapshot and not in it, paged by event_id.  A transaction lands in the
 * first batch whose snapshot sees it committed, so a long transaction
 * delays nothing but itself.  The position moves in the caller's
 * transaction: commit acknowledges, rollback gets the same events again.
 * The consumer row is locked NOWAIT, so two readers of one consumer get a
 * clear error rather than a queue.
 *
 * Both read with the caller's snapshot rules: under REPEATABLE READ or
 * SERIALIZABLE the horizon comes from the same (older) snapshot as the
 * rows, which is still exact.  A log restored by pg_restore into another
 * cluster holds transaction ids of that cluster; both refuse it until
 * rebase_events() has moved them out of the way.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/xid8.h"

#include "clock.h"
#include "compat.h"
#include "events.h"
#include "om_args.h"
#include "rls.h"
#include "shop.h"
#include "spi_util.h"

#define OM_EVENT_COLUMNS \
	"e.shop_id, e.event_id, e.order_id, e.at, e.actor, e.kind," \
	" e.from_value, e.to_value, e.detail, e.xid"
#define OM_EVENT_NATTS 10

/* The transaction id restored events and consumers are moved to. */
#define OM_REBASED_XID "1"
/* A consumer position from which every event is still to come. */
#define OM_SNAPSHOT_START OM_REBASED_XID ":" OM_REBASED_XID ":"

/*
 * A snapshot taken now that counts the caller's own transaction as
 * running if it has an id below the snapshot's xmax (pg_current_snapshot
 * leaves it out): the events it writes, before or after, then belong to
 * the batch after its commit.  A transaction without an id yet gets one
 * at or above the xmax.  The xip list stays valid either way.
 */
#define OM_FRESH_SNAPSHOT \
	"(SELECT CASE WHEN o.own IS NULL OR o.own >= pg_catalog.pg_snapshot_xmax(o.s) THEN o.s" \
	"   ELSE (SELECT pg_catalog.format('%s:%s:%s', pg_catalog.pg_snapshot_xmin(o.s)," \
	"           pg_catalog.pg_snapshot_xmax(o.s), pg_catalog.string_agg(u.x::text, ',' ORDER BY u.x))" \
	"         ::pg_catalog.pg_snapshot" \
	"         FROM (SELECT pg_catalog.pg_snapshot_xip(o.s) UNION SELECT o.own) u(x)" \
	"         WHERE u.x < pg_catalog.pg_snapshot_xmax(o.s)) END" \
	" FROM (SELECT pg_catalog.pg_current_snapshot() AS s," \
	"              pg_catalog.pg_current_xact_id_if_assigned() AS own) o)"

static int32
MaxArg(FunctionCallInfo fcinfo, int argno)
{
	int32		max;

	OM_ARG_NOT_NULL(argno, "max");
	max = PG_GETARG_INT32(argno);
	if (max < 1 || max > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be between 1 and 100000"),
				 errdetail("Got %d.", max)));
	return max;
}

static char *
ConsumerArg(FunctionCallInfo fcinfo, int argno)
{
	char	   *name;

	OM_ARG_NOT_NULL(argno, "consumer");
	name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (name[0] == '\0' || strlen(name) > 200)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("consumer name must be 1 to 200 bytes"),
				 errdetail("Got %zu bytes.", strlen(name))));
	return name;
}

/*
 * Refuse a log whose newest transaction id is one this cluster has not
 * handed out yet: it was restored from another cluster, and its ids would
 * interleave with new ones.
 */
static void
CheckNotForeign(int64 shop_id, bool isnull, Datum newest)
{
	FullTransactionId next = ReadNextFullTransactionId();

	if (!isnull &&
		U64FromFullTransactionId(DatumGetFullTransactionId(newest)) >=
		U64FromFullTransactionId(next))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the event log of shop " INT64_FORMAT " holds transaction ids of another cluster",
						shop_id),
				 errdetail("Its newest event's transaction is " UINT64_FORMAT "; this cluster's next is " UINT64_FORMAT ".",
						   U64FromFullTransactionId(DatumGetFullTransactionId(newest)),
						   U64FromFullTransactionId(next)),
				 errhint("It was restored from a dump of another cluster: a superuser runs SELECT order_mgmt.rebase_events() once.")));
}

/* Copy SPI_tuptable's rows (the OM_EVENT_COLUMNS) into the result. */
static int64
ReturnEvents(ReturnSetInfo *rsinfo)
{
	int64		last = 0;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		Datum		row[OM_EVENT_NATTS];
		bool		nulls[OM_EVENT_NATTS];
		int			c;

		for (c = 0; c < OM_EVENT_NATTS; c++)
			row[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
		last = DatumGetInt64(row[1]);
	}
	return last;
}

/*
 * events_since(shop_id, after_event_id, max) -> SETOF order_event
 *
 * after_event_id is 0 or the last event_id a previous call returned for
 * this shop; the position is that event's (xid, event_id).  Two
 * statements: the first reads the horizon (xmin of its snapshot), the
 * position and the newest xid; the second the rows, with a snapshot at
 * least as new, which sees every committed transaction below the horizon.
 */
PG_FUNCTION_INFO_V1(om_events_since);
Datum
om_events_since(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr start_plan = NULL;
	static SPIPlanPtr read_plan = NULL;
	static const Oid start_types[] = {INT8OID, INT8OID};
	static const Oid read_types[] = {INT8OID, XID8OID, INT8OID, XID8OID, INT4OID};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		shop_id;
	int64		after;
	int32		max;
	Datum		values[5];
	Datum		horizon;
	Datum		after_xid;
	Datum		newest;
	bool		isnull;
	bool		newest_null;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "after_event_id");
	shop_id = PG_GETARG_INT64(0);
	after = PG_GETARG_INT64(1);
	max = MaxArg(fcinfo, 2);
	if (after < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("after_event_id must be 0 or an event_id"),
				 errdetail("Got " INT64_FORMAT ".", after)));

	om_require_column("order_event", "xid", "events_since()");
	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&start_plan,
			"SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()),"
			" CASE WHEN $2 = 0 THEN '0'::pg_catalog.xid8 ELSE"
			"  (SELECT e.xid FROM order_mgmt.order_event e WHERE e.shop_id = $1 AND e.event_id = $2) END,"
			" " OM_SHOP_MAX_EVENT_XID_SQL,
			2, start_types);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(after);
	om_exec(start_plan, values, NULL, true, 1);
	horizon = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	after_xid = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event " INT64_FORMAT " does not exist in shop " INT64_FORMAT, after, shop_id),
				 errhint("Pass the event_id of the last event events_since() returned for this shop, or 0 to start from the first event.")));
	newest = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &newest_null);
	CheckNotForeign(shop_id, newest_null, newest);

	om_plan(&read_plan,
			"SELECT " OM_EVENT_COLUMNS
			" FROM order_mgmt.order_event e"
			" WHERE e.shop_id = $1 AND (e.xid, e.event_id) > ($2, $3) AND e.xid < $4"
			" ORDER BY e.xid, e.event_id LIMIT $5",
			5, read_types);
	values[0] = Int64GetDatum(shop_id);
	values[1] = after_xid;
	values[2] = Int64GetDatum(after);
	values[3] = horizon;
	values[4] = Int32GetDatum(max);
	om_exec(read_plan, values, NULL, true, 0);
	ReturnEvents(rsinfo);
	SPI_finish();
	return (Datum) 0;
}

/*
 * register_consumer(shop_id, consumer, from_start) -> boolean
 *
 * A consumer starts at the caller's snapshot (events committed before are
 * taken as delivered; the caller's own, committed later, are not), or
 * from_start before every event.  False, and
 * nothing changes, if the shop has a consumer of that name.
 */
PG_FUNCTION_INFO_V1(om_register_consumer);
Datum
om_register_consumer(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr snap_plan = NULL;
	static SPIPlanPtr plan = NULL;
	static const Oid snap_argtypes[] = {BOOLOID};
	static const Oid argtypes[] = {INT8OID, TEXTOID, PG_SNAPSHOTOID, TIMESTAMPTZOID};
	Datum		values[4];
	int64		shop_id;
	char	   *consumer;
	bool		from_start;
	bool		isnull;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(2, "from_start");
	shop_id = PG_GETARG_INT64(0);
	consumer = ConsumerArg(fcinfo, 1);
	from_start = PG_GETARG_BOOL(2);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_require_shop(shop_id);

	/*
	 * The position is taken by a statement of its own, before the INSERT
	 * (Citus plans no subquery inside INSERT ... VALUES).  A snapshot
	 * taken that much earlier only counts more transactions as still to
	 * come: the consumer skips nothing.
	 */
	om_plan(&snap_plan,
			"SELECT CASE WHEN $1 THEN '" OM_SNAPSHOT_START "'::pg_catalog.pg_snapshot"
			"  ELSE " OM_FRESH_SNAPSHOT " END",
			1, snap_argtypes);
	values[0] = BoolGetDatum(from_start);
	om_exec(snap_plan, values, NULL, true, 1);
	if (SPI_processed != 1)
		elog(ERROR, "register_consumer: no snapshot");
	values[2] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	om_plan(&plan,
			"INSERT INTO order_mgmt.event_consumer"
			" (shop_id, consumer, snapshot, created_at, updated_at)"
			" VALUES ($1, $2, $3, $4, $4)"
			" ON CONFLICT (shop_id, consumer) DO NOTHING",
			4, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(consumer);
	values[3] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, NULL, false, 0);
	from_start = (SPI_processed == 1);
	SPI_finish();
	PG_RETURN_BOOL(from_start);
}

/*
 * drop_consumer(shop_id, consumer) -> boolean
 */
PG_FUNCTION_INFO_V1(om_drop_consumer);
Datum
om_drop_consumer(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID};
	Datum		values[2];
	bool		found;

	OM_SHOP_ARG(0);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = CStringGetTextDatum(ConsumerArg(fcinfo, 1));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&plan,
			"DELETE FROM order_mgmt.event_consumer WHERE shop_id = $1 AND consumer = $2",
			2, argtypes);
	om_exec(plan, values, NULL, false, 0);
	found = (SPI_processed == 1);
	SPI_finish();
	PG_RETURN_BOOL(found);
}

/*
 * The consumer's position, locked for this transaction, and a fresh
 * snapshot for a new batch.  Sets *batch (NULL if between batches),
 * *after, *snapshot and *fresh.
 *
 * The row is locked first; the fresh snapshot is taken by a second
 * statement, after the lock, so under READ COMMITTED it sees whatever a
 * reader that held the row before us committed.  (Under REPEATABLE READ
 * the lock fails with 40001 if such a reader committed after our
 * snapshot.)  A position newer than the fresh snapshot cannot come from
 * this cluster: it was restored from another one.
 */
static void
LockConsumer(int64 shop_id, const char *consumer, Datum *snapshot, Datum *batch,
			 int64 *after, Datum *fresh)
{
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr fresh_plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID};
	Datum		values[2];
	MemoryContext cxt = CurrentMemoryContext;
	HeapTuple	tup;
	TupleDesc	td;
	bool		isnull;
	bool		newest_null;
	Datum		newest;
	FullTransactionId position_xmax;
	FullTransactionId fresh_xmax;

	om_plan(&lock_plan,
			"SELECT c.snapshot, c.batch_snapshot, c.batch_after,"
			" " OM_SHOP_MAX_EVENT_XID_SQL ","
			" GREATEST(pg_catalog.pg_snapshot_xmax(c.snapshot),"
			"          pg_catalog.pg_snapshot_xmax(c.batch_snapshot))"
			" FROM order_mgmt.event_consumer c"
			" WHERE c.shop_id = $1 AND c.consumer = $2"
			" FOR NO KEY UPDATE OF c NOWAIT",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(consumer);
	PG_TRY();
	{
		om_exec(lock_plan, values, NULL, false, 1);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
		{
			FlushErrorState();
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("event consumer \"%s\" of shop " INT64_FORMAT " is busy", consumer, shop_id),
					 errdetail("Another transaction is reading its events and has not ended."),
					 errhint("Run one reader per consumer, or register a consumer for each reader.")));
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("event consumer \"%s\" of shop " INT64_FORMAT " does not exist", consumer, shop_id),
				 errhint("Create it with order_mgmt.register_consumer().")));
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	*snapshot = SPI_getbinval(tup, td, 1, &isnull);
	*batch = SPI_getbinval(tup, td, 2, &isnull);
	if (isnull)
		*batch = (Datum) 0;
	*after = isnull ? 0 : DatumGetInt64(SPI_getbinval(tup, td, 3, &isnull));
	newest = SPI_getbinval(tup, td, 4, &newest_null);
	CheckNotForeign(shop_id, newest_null, newest);
	position_xmax = DatumGetFullTransactionId(SPI_getbinval(tup, td, 5, &isnull));

	/* a new statement: under READ COMMITTED a snapshot taken after the lock */
	om_plan(&fresh_plan, "SELECT " OM_FRESH_SNAPSHOT ", pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())",
			0, NULL);
	om_exec(fresh_plan, NULL, NULL, false, 1);
	*fresh = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	fresh_xmax = DatumGetFullTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 2, &isnull));
	if (FullTransactionIdFollows(position_xmax, fresh_xmax))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the position of event consumer \"%s\" of shop " INT64_FORMAT " is from another cluster",
						consumer, shop_id),
				 errdetail("Its snapshot reaches transaction " UINT64_FORMAT "; this cluster's snapshot ends at " UINT64_FORMAT ".",
						   U64FromFullTransactionId(position_xmax), U64FromFullTransactionId(fresh_xmax)),
				 errhint("It was restored from a dump of another cluster: a superuser runs SELECT order_mgmt.rebase_events() once.")));
}

/* Store the consumer's position: a batch in progress, or a new snapshot. */
static void
SaveConsumer(int64 shop_id, const char *consumer, Datum snapshot, Datum batch, int64 after)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID, PG_SNAPSHOTOID, PG_SNAPSHOTOID,
	INT8OID, TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	om_plan(&plan,
			"UPDATE order_mgmt.event_consumer"
			" SET snapshot = $3, batch_snapshot = $4, batch_after = $5, updated_at = $6"
			" WHERE shop_id = $1 AND consumer = $2",
			6, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(consumer);
	values[2] = snapshot;
	values[3] = batch;
	values[4] = Int64GetDatum(after);
	values[5] = TimestampTzGetDatum(om_now());
	if (batch == (Datum) 0)
		nulls[3] = nulls[4] = 'n';
	om_exec(plan, values, nulls, false, 0);
}

/*
 * next_events(shop_id, consumer, max) -> SETOF order_event
 *
 * Up to max events of the consumer's current batch after its position, by
 * event_id; a batch that ends is closed, and when it ended without a row
 * the next batch is read in the same call.
 */
PG_FUNCTION_INFO_V1(om_next_events);
Datum
om_next_events(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, PG_SNAPSHOTOID, PG_SNAPSHOTOID, INT8OID, INT4OID};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		shop_id;
	char	   *consumer;
	int32		max;
	Datum		snapshot;
	Datum		batch;
	Datum		fresh;
	int64		after;
	int			round;

	OM_SHOP_ARG(0);
	shop_id = PG_GETARG_INT64(0);
	consumer = ConsumerArg(fcinfo, 1);
	max = MaxArg(fcinfo, 2);

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	LockConsumer(shop_id, consumer, &snapshot, &batch, &after, &fresh);
	om_plan(&plan,
			"SELECT " OM_EVENT_COLUMNS
			" FROM order_mgmt.order_event e"
			" WHERE e.shop_id = $1"
			"   AND e.xid >= pg_catalog.pg_snapshot_xmin($2) AND e.xid < pg_catalog.pg_snapshot_xmax($3)"
			"   AND NOT pg_catalog.pg_visible_in_snapshot(e.xid, $2)"
			"   AND pg_catalog.pg_visible_in_snapshot(e.xid, $3)"
			"   AND e.event_id > $4"
			" ORDER BY e.event_id LIMIT $5",
			5, argtypes);

	for (round = 0; round < 2; round++)
	{
		bool		continuing = (batch != (Datum) 0);
		Datum		values[5];

		if (!continuing)
		{
			batch = fresh;
			after = 0;
		}
		values[0] = Int64GetDatum(shop_id);
		values[1] = snapshot;
		values[2] = batch;
		values[3] = Int64GetDatum(after);
		values[4] = Int32GetDatum(max);
		/* a new snapshot, at least as new as the batch's (never read_only) */
		om_exec(plan, values, NULL, false, 0);
		if (SPI_processed == (uint64) max)
		{
			/* maybe more in this batch: keep it open after the last row */
			after = ReturnEvents(rsinfo);
			SaveConsumer(shop_id, consumer, snapshot, batch, after);
			break;
		}
		/* the batch is done: its snapshot is the new position */
		ReturnEvents(rsinfo);
		snapshot = batch;
		batch = (Datum) 0;
		if (!continuing || SPI_processed > 0 || round == 1)
		{
			SaveConsumer(shop_id, consumer, snapshot, (Datum) 0, 0);
			break;
		}
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * rebase_events() -> bigint
 *
 * After pg_restore into another cluster the log's transaction ids are the
 * old cluster's, and new ones could sort among them.  Moves every event to
 * transaction OM_REBASED_XID, below any this cluster hands out, and every
 * consumer to a position that has delivered them all (drain consumers
 * before the dump).  Superuser (the extension's owner) only.
 */
PG_FUNCTION_INFO_V1(om_rebase_events);
Datum
om_rebase_events(PG_FUNCTION_ARGS)
{
	int64		moved;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("ALTER TABLE order_mgmt.order_event DISABLE TRIGGER order_event_append_only",
					false, 0) != SPI_OK_UTILITY ||
		SPI_execute("UPDATE order_mgmt.order_event SET xid = '" OM_REBASED_XID "'"
					" WHERE xid <> '" OM_REBASED_XID "'", false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not rebase order_mgmt.order_event");
	moved = (int64) SPI_processed;
	if (SPI_execute("ALTER TABLE order_mgmt.order_event ENABLE TRIGGER order_event_append_only",
					false, 0) != SPI_OK_UTILITY ||
		SPI_execute("UPDATE order_mgmt.event_consumer"
					" SET snapshot = '2:2:', batch_snapshot = NULL, batch_after = NULL",
					false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not rebase order_mgmt.event_consumer");
	SPI_finish();
	ereport(NOTICE,
			(errmsg("moved " INT64_FORMAT " events to transaction " OM_REBASED_XID, moved),
			 errdetail("Every named consumer has delivered them; events_since() now orders them by event_id."),
			 errhint("A drained events_since() reader resumes from its shop's highest event_id.")));
	PG_RETURN_INT64(moved);
}

/*
 * enable_notify(shop_id) -> text
 *
 * Gives the shop a new NOTIFY channel with a random name and returns it.
 * Anyone may LISTEN on any channel, so the name is what keeps a shop's
 * wake-ups to the roles it tells (they carry no data either way).
 */
PG_FUNCTION_INFO_V1(om_enable_notify);
Datum
om_enable_notify(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	uint8		bytes[12];
	char		channel[sizeof("order_mgmt_") + 2 * sizeof(bytes)];
	Datum		values[3];
	int64		shop_id;
	int			i;

	OM_SHOP_ARG(0);
	shop_id = PG_GETARG_INT64(0);
	if (!pg_strong_random(bytes, sizeof(bytes)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random channel name")));
	strcpy(channel, "order_mgmt_");
	for (i = 0; i < (int) sizeof(bytes); i++)
		sprintf(channel + strlen("order_mgmt_") + 2 * i, "%02x", bytes[i]);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&plan,
			"UPDATE order_mgmt.shop SET notify_channel = $2, updated_at = $3"
			" WHERE shop_id = $1",
			3, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(channel);
	values[2] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, NULL, false, 0);
	if (SPI_processed != 1)
		om_shop_not_found(shop_id);
	om_events_forget_channel();
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(channel));
}
