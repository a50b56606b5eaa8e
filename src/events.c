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
 *-------------------------------------------------------------------------
 */
#include "order_mgmt.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

/* Set while the sweeper acts, so its events say "system". */
bool		om_acting_as_system = false;

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
	if (om_acting_as_system)
		return "system";
	return GetUserNameFromId(GetOuterUserId(), false);
}

/*
 * Append one event.  Must be called inside an SPI connection.  from_value,
 * to_value and detail_json may be NULL.
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
		int64		event_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 1, &isnull));

		Async_Notify("order_mgmt",
					 psprintf("{\"shop_id\": " INT64_FORMAT ", \"order_id\": " INT64_FORMAT
							  ", \"event_id\": " INT64_FORMAT ", \"kind\": \"%s\"}",
							  shop_id, order_id, event_id, kind));
	}
}

/*
 * events_since(shop_id, after_event_id, max) -> SETOF order_event
 *
 * The event log is the outbox (SPEC §12).  A consumer that remembers the
 * last event_id it saw must never skip an event that commits later with a
 * lower id, so we return only the longest run of events, in id order, whose
 * inserting transaction precedes every transaction still running (its xmin
 * is below our snapshot's xmin).  Every path writes an order row before its
 * events, so a transaction has its xid before it draws an event id: an
 * event id drawn by a transaction still running is higher than the ids of
 * all events returned here.
 */
PG_FUNCTION_INFO_V1(events_since);
Datum
events_since(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, INT4OID};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TransactionId horizon;
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
	horizon = GetActiveSnapshot()->xmin;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&plan,
			"SELECT e.xmin::text, e.shop_id, e.event_id, e.order_id, e.at, e.actor, e.kind,"
			" e.from_value, e.to_value, e.detail"
			" FROM order_mgmt.order_event e WHERE e.shop_id = $1 AND e.event_id > $2"
			" ORDER BY e.event_id LIMIT $3",
			3, argtypes);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = Int32GetDatum(max);
	om_exec(plan, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		Datum		row[9];
		bool		nulls[9];
		bool		isnull;
		TransactionId xmin;
		int			c;

		xmin = (TransactionId) strtoul(TextDatumGetCString(SPI_getbinval(tup, td, 1, &isnull)), NULL, 10);
		if (TransactionIdIsNormal(xmin) && !TransactionIdPrecedes(xmin, horizon) &&
			!TransactionIdIsCurrentTransactionId(xmin))
			break;				/* a transaction as young as a running one: stop here */
		for (c = 0; c < 9; c++)
			row[c] = SPI_getbinval(tup, td, c + 2, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
