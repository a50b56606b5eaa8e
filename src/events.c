/*-------------------------------------------------------------------------
 *
 * events.c
 *	  The append-only event log order_mgmt.order_event (SPEC §12).
 *
 * Events are written through one kept plan, inside the caller's SPI
 * connection, so they commit or roll back with the change they record.
 * The actor is the calling role as the caller sees it: the SET ROLE role,
 * else the session user, even inside SECURITY DEFINER functions (that is
 * GetOuterUserId(), which SECURITY DEFINER does not change), or "system"
 * while the sweeper acts.
 *
 * After commit, listeners on channel order_mgmt are told of the event kinds
 * named in order_mgmt.notify_kinds.  NOTIFY makes committing transactions
 * queue on one lock, so the default leaves checkout out of it.
 *
 * A run_due() batch defers its events (om_events_defer_begin): they are
 * kept in memory, in order, and written by one multi-row INSERT when the
 * batch ends or a few thousand have piled up, instead of one INSERT each,
 * five per swept order.  Ids are drawn when they are written, in the
 * order the events happened, and nothing in a batch reads the log back.
 * Events are not deferred while order_event has an INSERT trigger or rule
 * of the shop's own: such a trigger may fail one event, and that must fail
 * only that order's action, as without a batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "clock.h"
#include "compat.h"
#include "context.h"
#include "events.h"
#include "om_args.h"
#include "spi_util.h"

static char *notify_kinds = NULL;

void
om_events_define_gucs(void)
{
	DefineCustomStringVariable("order_mgmt.notify_kinds",
							   "Sets the event kinds announced by NOTIFY on channel order_mgmt after commit.",
							   "A comma-separated list of order_event kinds; empty announces none.",
							   &notify_kinds,
							   "order_status,payment_status,delivery_status,refund_owed",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);
}

/* Is kind in the comma-separated order_mgmt.notify_kinds? */
static bool
Notified(const char *kind)
{
	const char *p = notify_kinds;
	size_t		len = strlen(kind);

	while (p && *p)
	{
		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, kind, len) == 0 && (p[len] == '\0' || p[len] == ',' || p[len] == ' '))
			return true;
		p = strchr(p, ',');
	}
	return false;
}

const char *
om_actor(void)
{
	if (om_act()->actor == OM_ACTOR_SYSTEM)
		return "system";
	return GetUserNameFromId(GetOuterUserId(), false);
}

/*
 * The outbox horizon (events_since).  Before a transaction draws its first
 * event id it takes a shared transaction advisory lock keyed by a lower
 * bound of every event id it can draw: the sequence's last value + 1.  The
 * key is (OM_EVENT_LOCK_TAG, bound) while the bound fits in an int4, then
 * (OM_EVENT_LOCK_TAG + 1, bound >> 16), a coarser bound.  A reader
 * returns only events below the smallest bound still locked by another
 * backend, so an event id drawn by a transaction still running can never
 * fall below what a consumer has seen.  The lock is taken before the id is
 * drawn, so a reader that does not see it also cannot see (nor pass) the
 * id, which is drawn after the reader's snapshot.
 */
#define OM_EVENT_LOCK_TAG 1330464118	/* 0x4F4D4576, "OMEv" */
#define OM_EVENT_BOUND_SHIFT 16

static TransactionId bound_xid = InvalidTransactionId;

static void
LockBound(int64 bound)
{
	if (bound <= PG_INT32_MAX)
		DirectFunctionCall2(pg_advisory_xact_lock_shared_int4,
							Int32GetDatum(OM_EVENT_LOCK_TAG), Int32GetDatum((int32) bound));
	else
		DirectFunctionCall2(pg_advisory_xact_lock_shared_int4,
							Int32GetDatum(OM_EVENT_LOCK_TAG + 1),
							Int32GetDatum((int32) (bound >> OM_EVENT_BOUND_SHIFT)));
}
static int64 bound_value = 0;

static void
AnnounceEventBound(void)
{
	TransactionId xid = GetTopTransactionId();
	Oid			nsp;
	Oid			seq;
	Datum		last;
	int64		bound = 1;
	LOCAL_FCINFO(fcinfo, 1);

	/*
	 * Once per transaction we compute the bound; every event re-takes the
	 * same lock, which is a local lookup when held, and takes it again
	 * after a subtransaction that took it was rolled back.
	 */
	if (xid == bound_xid)
	{
		LockBound(bound_value);
		return;
	}
	nsp = get_namespace_oid("order_mgmt", false);
	seq = get_relname_relid("event_id_seq", nsp);
	if (!OidIsValid(seq))
		elog(ERROR, "sequence order_mgmt.event_id_seq is missing");

	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(seq);
	fcinfo->args[0].isnull = false;
	last = pg_sequence_last_value(fcinfo);
	if (!fcinfo->isnull)
		bound = DatumGetInt64(last) + 1;

	LockBound(bound);
	bound_xid = xid;
	bound_value = bound;
}

/* NOTIFY listeners of one event (after commit). */
static void
Announce(int64 shop_id, int64 order_id, int64 event_id, const char *kind)
{
	Async_Notify("order_mgmt",
				 psprintf("{\"shop_id\": " INT64_FORMAT ", \"order_id\": " INT64_FORMAT
						  ", \"event_id\": " INT64_FORMAT ", \"kind\": \"%s\"}",
						  shop_id, order_id, event_id, kind));
}

/* Events deferred by a run_due() batch, in the order they happened. */
typedef struct DeferredEvent
{
	int64		shop_id;
	int64		order_id;
	TimestampTz at;
	char	   *actor;
	char	   *kind;
	char	   *from_value;		/* NULL if none */
	char	   *to_value;
	char	   *detail;
} DeferredEvent;

/* The events a run_due() batch defers (context.h: OmAct.deferred). */
struct OmEventQueue
{
	MemoryContext cxt;
	DeferredEvent *events;
	int			n;
	int			max;
};

static void Defer(OmEventQueue *q, int64 shop_id, int64 order_id, const char *kind,
				  const char *from_value, const char *to_value, const char *detail_json);

/*
 * Append one event, or defer it while a run_due() batch defers events.
 * Must be called inside an SPI connection.  from_value, to_value and
 * detail_json may be NULL.
 */
void
om_event_write(int64 shop_id, int64 order_id, const char *kind,
			   const char *from_value, const char *to_value,
			   const char *detail_json)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	if (om_act()->deferred != NULL)
	{
		Defer(om_act()->deferred, shop_id, order_id, kind, from_value, to_value, detail_json);
		return;
	}
	AnnounceEventBound();
	om_plan(&plan,
			"INSERT INTO order_mgmt.order_event"
			" (shop_id, order_id, at, actor, kind, from_value, to_value, detail)"
			" VALUES ($1, $2, $3, $4, $5::order_mgmt.event_kind, $6, $7, $8::pg_catalog.jsonb)"
			" RETURNING event_id",
			8, argtypes);

	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(om_now());
	values[3] = CStringGetTextDatum(om_actor());
	values[4] = CStringGetTextDatum(kind);
	if (from_value)
		values[5] = CStringGetTextDatum(from_value);
	else
		nulls[5] = 'n';
	if (to_value)
		values[6] = CStringGetTextDatum(to_value);
	else
		nulls[6] = 'n';
	if (detail_json)
		values[7] = CStringGetTextDatum(detail_json);
	else
		nulls[7] = 'n';

	if (om_exec(plan, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not append order event");

	if (Notified(kind))
	{
		bool		isnull;

		Announce(shop_id, order_id,
				 DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
				 kind);
	}
}

/* Does order_event have an enabled INSERT trigger or a rule not our own? */
static bool
ShopInsertHooks(void)
{
	Oid			relid = get_relname_relid("order_event", get_namespace_oid("order_mgmt", false));
	Relation	rel;
	bool		found = false;

	if (!OidIsValid(relid))
		elog(ERROR, "table order_mgmt.order_event is missing");
	/*
	 * The lock the batch's INSERT takes anyway, taken now and kept until
	 * it commits: CREATE TRIGGER and ALTER TABLE ... ENABLE TRIGGER need a
	 * lock that conflicts with it, so none can be added meanwhile.
	 */
	rel = table_open(relid, RowExclusiveLock);
	if (rel->rd_rules != NULL)
		found = true;
	if (rel->trigdesc != NULL)
	{
		int			i;

		for (i = 0; i < rel->trigdesc->numtriggers && !found; i++)
		{
			Trigger    *t = &rel->trigdesc->triggers[i];

			if (!t->tgisinternal && t->tgenabled != TRIGGER_DISABLED &&
				TRIGGER_FOR_INSERT(t->tgtype))
				found = true;
		}
	}
	table_close(rel, NoLock);
	return found;
}

/*
 * A queue for deferred events in memory under cxt; NULL, and nothing is
 * deferred, if the shop has its own INSERT trigger or rule on order_event
 * (such a trigger may fail one event, and that must fail only its order).
 * The caller puts it in the acting context (OmAct.deferred).
 */
OmEventQueue *
om_events_defer_begin(MemoryContext cxt)
{
	OmEventQueue *q;

	if (ShopInsertHooks())
		return NULL;
	q = MemoryContextAllocZero(cxt, sizeof(OmEventQueue));
	q->cxt = AllocSetContextCreate(cxt, "order_mgmt deferred events", ALLOCSET_DEFAULT_SIZES);
	q->max = 1024;
	q->events = MemoryContextAlloc(q->cxt, sizeof(DeferredEvent) * q->max);
	return q;
}

/* Forget the queue and what was not written (also after an error). */
void
om_events_defer_end(OmEventQueue *q)
{
	if (q == NULL)
		return;
	MemoryContextDelete(q->cxt);
	pfree(q);
}

/* How many events wait to be written: a mark to rewind to. */
int
om_events_deferred(const OmEventQueue *q)
{
	return q ? q->n : 0;
}

/* Forget the events deferred since mark: that order's action rolled back. */
void
om_events_rewind(OmEventQueue *q, int mark)
{
	if (q == NULL)
		return;
	Assert(mark >= 0 && mark <= q->n);
	q->n = mark;
}

static char *
DeferStrdup(OmEventQueue *q, const char *s)
{
	return s ? MemoryContextStrdup(q->cxt, s) : NULL;
}

static void
Defer(OmEventQueue *q, int64 shop_id, int64 order_id, const char *kind,
	  const char *from_value, const char *to_value, const char *detail_json)
{
	DeferredEvent *e;

	if (q->n == q->max)
	{
		q->max *= 2;
		q->events = repalloc(q->events, sizeof(DeferredEvent) * q->max);
	}
	e = &q->events[q->n++];
	e->shop_id = shop_id;
	e->order_id = order_id;
	e->at = om_now();
	e->actor = DeferStrdup(q, om_actor());
	e->kind = DeferStrdup(q, kind);
	e->from_value = DeferStrdup(q, from_value);
	e->to_value = DeferStrdup(q, to_value);
	e->detail = DeferStrdup(q, detail_json);
}

/* A text[] of one field of the deferred events, NULLs kept. */
static Datum
FieldArray(const OmEventQueue *q, size_t offset)
{
	Datum	   *elems = palloc(sizeof(Datum) * q->n);
	bool	   *nulls = palloc(sizeof(bool) * q->n);
	int			dims[1] = {q->n};
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < q->n; i++)
	{
		const char *v = *(char **) ((char *) &q->events[i] + offset);

		nulls[i] = (v == NULL);
		elems[i] = v ? CStringGetTextDatum(v) : (Datum) 0;
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Write the deferred events, in the order they happened, with one
 * statement, and announce them as om_event_write would.  Called between
 * orders, never inside one order's subtransaction.  Inside SPI.
 */
void
om_events_flush(OmEventQueue *q)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[8];
	Datum	   *shops;
	Datum	   *orders;
	Datum	   *ats;
	uint64		i;
	MemoryContext flush_cxt;
	MemoryContext old_cxt;

	if (q == NULL || q->n == 0)
		return;
	AnnounceEventBound();
	flush_cxt = AllocSetContextCreate(CurrentMemoryContext, "order_mgmt event flush",
									  ALLOCSET_DEFAULT_SIZES);
	old_cxt = MemoryContextSwitchTo(flush_cxt);
	om_plan(&plan,
			"INSERT INTO order_mgmt.order_event"
			" (shop_id, order_id, at, actor, kind, from_value, to_value, detail)"
			" SELECT u.shop_id, u.order_id, u.at, u.actor, u.kind::order_mgmt.event_kind,"
			"   u.from_value, u.to_value, u.detail::pg_catalog.jsonb"
			" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
			"   pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6),"
			"   pg_catalog.unnest($7), pg_catalog.unnest($8))"
			"   WITH ORDINALITY AS u(shop_id, order_id, at, actor, kind, from_value, to_value, detail, n)"
			" ORDER BY u.n"
			" RETURNING event_id, shop_id, order_id, kind::text",
			8, argtypes);

	shops = palloc(sizeof(Datum) * q->n);
	orders = palloc(sizeof(Datum) * q->n);
	ats = palloc(sizeof(Datum) * q->n);
	for (i = 0; i < q->n; i++)
	{
		shops[i] = Int64GetDatum(q->events[i].shop_id);
		orders[i] = Int64GetDatum(q->events[i].order_id);
		ats[i] = TimestampTzGetDatum(q->events[i].at);
	}
	values[0] = om_int8_array(shops, q->n);
	values[1] = om_int8_array(orders, q->n);
	values[2] = PointerGetDatum(construct_array(ats, q->n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = FieldArray(q, offsetof(DeferredEvent, actor));
	values[4] = FieldArray(q, offsetof(DeferredEvent, kind));
	values[5] = FieldArray(q, offsetof(DeferredEvent, from_value));
	values[6] = FieldArray(q, offsetof(DeferredEvent, to_value));
	values[7] = FieldArray(q, offsetof(DeferredEvent, detail));

	if (om_exec(plan, values, NULL, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != (uint64) q->n)
		elog(ERROR, "could not append %d deferred order events", q->n);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *kind = TextDatumGetCString(SPI_getbinval(tup, td, 4, &isnull));

		if (Notified(kind))
			Announce(DatumGetInt64(SPI_getbinval(tup, td, 2, &isnull)),
					 DatumGetInt64(SPI_getbinval(tup, td, 3, &isnull)),
					 DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull)),
					 kind);
	}
	SPI_freetuptable(SPI_tuptable);
	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(flush_cxt);
	q->n = 0;
	MemoryContextReset(q->cxt);
	q->max = 1024;
	q->events = MemoryContextAlloc(q->cxt, sizeof(DeferredEvent) * q->max);
}

/*
 * events_since(shop_id, after_event_id, max) -> SETOF order_event
 *
 * The event log is the outbox (SPEC §12): a consumer that remembers the
 * last event_id it saw must never skip an event that commits later with a
 * lower id.  So we return only events below the horizon: the smallest
 * lower bound announced by a transaction still running elsewhere (see
 * AnnounceEventBound).  The snapshot is taken when the statement starts,
 * before pg_locks is read, so an id drawn after the snapshot is above every
 * id the snapshot shows.
 */
PG_FUNCTION_INFO_V1(om_events_since);
Datum
om_events_since(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, INT4OID};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[3];
	int32		max;
	uint64		i;

	OM_ARG_NOT_NULL(0, "shop_id");
	OM_ARG_NOT_NULL(1, "after_event_id");
	OM_ARG_NOT_NULL(2, "max");
	max = PG_GETARG_INT32(2);
	if (max < 1 || max > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be between 1 and 100000"),
				 errdetail("Got %d.", max)));

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&plan,
			"SELECT e.shop_id, e.event_id, e.order_id, e.at, e.actor, e.kind,"
			" e.from_value, e.to_value, e.detail"
			" FROM order_mgmt.order_event e"
			" WHERE e.shop_id = $1 AND e.event_id > $2"
			"   AND e.event_id < coalesce((SELECT min(CASE l.classid::text::int8"
			"            WHEN " CppAsString2(OM_EVENT_LOCK_TAG) " THEN l.objid::text::int8"
			"            ELSE l.objid::text::int8 << " CppAsString2(OM_EVENT_BOUND_SHIFT) " END)"
			"        FROM pg_catalog.pg_locks l"
			"        WHERE l.locktype = 'advisory' AND l.objsubid = 2"
			"          AND l.classid::text::int8 IN (" CppAsString2(OM_EVENT_LOCK_TAG) ", "
			CppAsString2(OM_EVENT_LOCK_TAG) " + 1)"
			"          AND l.pid <> pg_catalog.pg_backend_pid()),"
			"        9223372036854775807)"
			" ORDER BY e.event_id LIMIT $3",
			3, argtypes);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = Int32GetDatum(max);
	om_exec(plan, values, NULL, false, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		row[9];
		bool		nulls[9];
		int			c;

		for (c = 0; c < 9; c++)
			row[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
