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
 * Each row records its transaction (column xid, pg_current_xact_id()):
 * the readers in outbox.c order and cut the log by it, so no lock or
 * counter is taken here and nothing can stall a writer.
 *
 * After commit, a shop that has a NOTIFY channel (shop.notify_channel, set
 * by enable_notify) is woken on it, with an empty payload, when the
 * transaction wrote one of the event kinds named in order_mgmt.notify_kinds.
 * The wake-up carries nothing (consumers read the events), so a listener
 * learns no order data and a forged NOTIFY only causes an extra read.  It
 * is skipped while the server's NOTIFY queue is more than half full: a
 * full queue fails every notifying commit, and an idle listener in an open
 * transaction can fill it.
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
#include "utils/json.h"
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
							   "Sets the event kinds that wake a shop's NOTIFY channel after commit.",
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

/* More than this fraction of the NOTIFY queue in use: wake no one. */
#define OM_NOTIFY_QUEUE_LIMIT 0.5

/*
 * The shop's NOTIFY channel, or NULL: looked up once per transaction and
 * shop (the last one asked), inside the caller's SPI connection; the
 * functions that set a channel forget it.
 */
static FullTransactionId memo_xid;
static int64 memo_shop = 0;
static char memo_channel[NAMEDATALEN];

/* A shop's channel was set: look it up again (update_shop, enable_notify). */
void
om_events_forget_channel(void)
{
	memo_shop = 0;
}

static const char *
ShopChannel(int64 shop_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID};
	FullTransactionId xid = GetTopFullTransactionId();
	Datum		values[1];

	if (memo_shop != shop_id || !FullTransactionIdEquals(memo_xid, xid))
	{
		bool		isnull = true;
		Datum		d = (Datum) 0;

		om_plan(&plan, "SELECT notify_channel FROM order_mgmt.shop WHERE shop_id = $1",
				1, argtypes);
		values[0] = Int64GetDatum(shop_id);
		om_exec(plan, values, NULL, true, 1);
		if (SPI_processed == 1)
			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		memo_channel[0] = '\0';
		if (!isnull)
			strlcpy(memo_channel, TextDatumGetCString(d), NAMEDATALEN);
		memo_shop = shop_id;
		memo_xid = xid;
	}
	return memo_channel[0] ? memo_channel : NULL;
}

static bool
NotifyQueueRoomy(void)
{
	LOCAL_FCINFO(fcinfo, 0);

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	return DatumGetFloat8(pg_notification_queue_usage(fcinfo)) <= OM_NOTIFY_QUEUE_LIMIT;
}

/*
 * Wake the shop's listeners after commit if kind is announced.  PostgreSQL
 * folds repeated notifications of a transaction into one.  Inside SPI.
 */
static void
Announce(int64 shop_id, const char *kind)
{
	const char *channel;

	if (!Notified(kind) || !om_has_column("shop", "notify_channel"))
		return;
	channel = ShopChannel(shop_id);
	if (channel != NULL && NotifyQueueRoomy())
		Async_Notify(channel, "");
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
	om_plan(&plan,
			"INSERT INTO order_mgmt.order_event"
			" (shop_id, order_id, at, actor, kind, from_value, to_value, detail)"
			" VALUES ($1, $2, $3, $4, $5::order_mgmt.event_kind, $6, $7, $8::pg_catalog.jsonb)",
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

	if (om_exec(plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not append order event");
	Announce(shop_id, kind);
}

/*
 * om_event_write() with the detail already built as jsonb (not NULL): no
 * text for jsonb_in to parse (issue 21: checkout's event).  A deferring
 * run_due() batch gets it as text, as om_event_write() would.
 */
void
om_event_write_jsonb(int64 shop_id, int64 order_id, const char *kind,
					 const char *from_value, const char *to_value, Jsonb *detail)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, JSONBOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	if (om_act()->deferred != NULL)
	{
		Defer(om_act()->deferred, shop_id, order_id, kind, from_value, to_value,
			  JsonbToCString(NULL, &detail->root, VARSIZE(detail)));
		return;
	}
	om_plan(&plan,
			"INSERT INTO order_mgmt.order_event"
			" (shop_id, order_id, at, actor, kind, from_value, to_value, detail)"
			" VALUES ($1, $2, $3, $4, $5::order_mgmt.event_kind, $6, $7, $8)",
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
	values[7] = JsonbPGetDatum(detail);

	if (om_exec(plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not append order event");
	Announce(shop_id, kind);
}

/* Push key (a string) onto *js, inside an open object. */
void
om_jsonb_push_key(JsonbParseState **js, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = unconstify(char *, key);
	v.val.string.len = strlen(key);
	pushJsonbValue(js, WJB_KEY, &v);
}

/*
 * Push a value onto *js: with its key inside an object (key not NULL), or
 * as an array element (key NULL).  The value is what jsonb_in would make
 * of its JSON text, so the jsonb is byte for byte the same.
 */
static void
PushValue(JsonbParseState **js, const char *key, JsonbValue *v)
{
	if (key != NULL)
	{
		om_jsonb_push_key(js, key);
		pushJsonbValue(js, WJB_VALUE, v);
	}
	else
		pushJsonbValue(js, WJB_ELEM, v);
}

void
om_jsonb_push_string(JsonbParseState **js, const char *key, const char *value)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = unconstify(char *, value);
	v.val.string.len = strlen(value);
	PushValue(js, key, &v);
}

void
om_jsonb_push_int(JsonbParseState **js, const char *key, int32 value)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(value)));
	PushValue(js, key, &v);
}

/* value must not be packed (a short varlena header): as DatumGetNumeric() gives it */
void
om_jsonb_push_numeric(JsonbParseState **js, const char *key, Numeric value)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = value;
	PushValue(js, key, &v);
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
			" ORDER BY u.n",
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

	if (om_exec(plan, values, NULL, false, 0) != SPI_OK_INSERT ||
		SPI_processed != (uint64) q->n)
		elog(ERROR, "could not append %d deferred order events", q->n);
	for (i = 0; i < q->n; i++)
		Announce(q->events[i].shop_id, q->events[i].kind);
	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(flush_cxt);
	q->n = 0;
	MemoryContextReset(q->cxt);
	q->max = 1024;
	q->events = MemoryContextAlloc(q->cxt, sizeof(DeferredEvent) * q->max);
}

/*
 * Append ", \"key\": value" to an event detail being built, value as a
 * JSON string (escaped) or null.
 */
void
om_json_text_field(StringInfo buf, const char *key, const char *value)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	if (value)
		escape_json(buf, value);
	else
		appendStringInfoString(buf, "null");
}
