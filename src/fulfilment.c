/*-------------------------------------------------------------------------
 *
 * fulfilment.c
 *	  After delivery (SPEC §9, §10): complete, archive, unarchive,
 *	  add_note, record_feedback.  Shipping and delivery are shipment.c's.
 *
 * Like the other order operations these lock the order and apply its
 * overdue deadlines first (om_lock_order), then make one guarded UPDATE;
 * the guard trigger judges the move (OM005, OM008, OM013) and the effects
 * trigger schedules auto-archiving.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"

#include "clock.h"
#include "events.h"
#include "machines.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "order_lock.h"
#include "rls.h"
#include "spi_util.h"

static void
Enter(FunctionCallInfo fcinfo, OmOrder *o)
{
	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	om_enter_order(PG_GETARG_INT64(0), PG_GETARG_INT64(1), o);
}

/* One guarded UPDATE of a column of the order to a text value cast in SQL. */
static void
SetColumn(const OmOrder *o, SPIPlanPtr *slot, const char *sql, const char *value)
{
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	om_plan(slot, sql, 4, argtypes);
	values[0] = Int64GetDatum(o->shop_id);
	values[1] = Int64GetDatum(o->order_id);
	if (value)
		values[2] = CStringGetTextDatum(value);
	else
		nulls[2] = 'n';
	values[3] = TimestampTzGetDatum(om_now());
	om_exec_quiet(*slot, values, nulls, false, 0);
}

/*
 * complete(shop_id, order_id) -> void
 */
PG_FUNCTION_INFO_V1(om_complete);
Datum
om_complete(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	OmOrder		o;

	Enter(fcinfo, &o);
	if (o.status != OS_COMPLETED)
		SetColumn(&o, &plan,
				  "UPDATE order_mgmt.orders SET status = 'completed'"
				  " WHERE shop_id = $1 AND order_id = $2", NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * archive(shop_id, order_id) -> void; unarchive(shop_id, order_id) -> void
 */
PG_FUNCTION_INFO_V1(om_archive);
Datum
om_archive(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	OmOrder		o;

	Enter(fcinfo, &o);
	SetColumn(&o, &plan,
			  "UPDATE order_mgmt.orders SET archived_at = $4"
			  " WHERE shop_id = $1 AND order_id = $2 AND archived_at IS NULL", NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(om_unarchive);
Datum
om_unarchive(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	OmOrder		o;

	Enter(fcinfo, &o);
	SetColumn(&o, &plan,
			  "UPDATE order_mgmt.orders SET archived_at = NULL"
			  " WHERE shop_id = $1 AND order_id = $2 AND archived_at IS NOT NULL", NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * add_note(shop_id, order_id, kind, body) -> void
 *
 * admin, shipping and customer notes replace the order's note of that
 * kind; support records a contact with customer service (it sets
 * consulted_support).  Every note is also an event.  Archived orders take
 * notes too.
 */
PG_FUNCTION_INFO_V1(om_add_note);
Datum
om_add_note(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	OmOrder		o;
	char	   *kind;
	char	   *body;
	StringInfoData detail;

	OM_SHOP_ARG(0);			/* before the other arguments are judged */
	OM_ARG_NOT_NULL(2, "kind");
	OM_ARG_NOT_NULL(3, "body");
	kind = DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(2)));
	body = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (body[strspn(body, " \t\r\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("body must not be empty")));
	Enter(fcinfo, &o);
	om_plan(&plan,
			"UPDATE order_mgmt.orders SET"
			" admin_note = CASE WHEN $3 = 'admin' THEN $4 ELSE admin_note END,"
			" shipping_note = CASE WHEN $3 = 'shipping' THEN $4 ELSE shipping_note END,"
			" customer_note = CASE WHEN $3 = 'customer' THEN $4 ELSE customer_note END,"
			" consulted_support = consulted_support OR $3 = 'support'"
			" WHERE shop_id = $1 AND order_id = $2",
			4, (Oid[]) {INT8OID, INT8OID, TEXTOID, TEXTOID});
	om_exec_quiet(plan, (Datum[]) {Int64GetDatum(o.shop_id), Int64GetDatum(o.order_id),
				  CStringGetTextDatum(kind), CStringGetTextDatum(body)}, NULL, false, 0);
	initStringInfo(&detail);
	appendStringInfo(&detail, "{\"kind\": \"%s\", \"body\": ", kind);
	escape_json(&detail, body);
	appendStringInfoChar(&detail, '}');
	om_event_write(o.shop_id, o.order_id, "note", NULL, NULL, detail.data);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * record_feedback(shop_id, order_id, reason, comment, score) -> void
 *
 * Why the customer cancelled (seed 003).  Every call adds a feedback
 * (feedback_no 1, 2, ... numbered under the order's lock, which Enter
 * takes); the latest is the current one.  On a 0.1.0 schema, before ALTER
 * EXTENSION UPDATE, the table keeps one feedback per order and a later
 * call replaces it, as 0.1.0 did.
 */
PG_FUNCTION_INFO_V1(om_record_feedback);
Datum
om_record_feedback(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_010 = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID};
	OmOrder		o;
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	SPIPlanPtr	use;

	OM_SHOP_ARG(0);			/* before the other arguments are judged */
	OM_ARG_NOT_NULL(2, "reason");
	if (!PG_ARGISNULL(4) && (PG_GETARG_INT32(4) < 1 || PG_GETARG_INT32(4) > 5))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("score must be between 1 and 5"),
				 errdetail("Got %d.", PG_GETARG_INT32(4))));
	Enter(fcinfo, &o);
	if (o.status != OS_CANCELLED)
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
				 errmsg("cannot record cancellation feedback for order " INT64_FORMAT ": it is %s",
						o.order_id, om_state_name(OM_MACHINE_ORDER, o.status)),
				 errdetail("Feedback is about why an order was cancelled.")));
	if (om_has_column("cancel_feedback", "feedback_no"))
	{
		om_plan(&plan,
				"INSERT INTO order_mgmt.cancel_feedback"
				" (shop_id, order_id, reason, comment, score, recorded_at, feedback_no)"
				" SELECT $1, $2, $3::order_mgmt.cancel_reason, $4, $5, $6, coalesce(max(f.feedback_no), 0) + 1"
				" FROM order_mgmt.cancel_feedback f WHERE f.shop_id = $1 AND f.order_id = $2",
				6, argtypes);
		use = plan;
	}
	else
	{
		om_plan(&plan_010,
				"INSERT INTO order_mgmt.cancel_feedback (shop_id, order_id, reason, comment, score, recorded_at)"
				" VALUES ($1, $2, $3::order_mgmt.cancel_reason, $4, $5, $6)"
				" ON CONFLICT (shop_id, order_id) DO UPDATE SET reason = EXCLUDED.reason,"
				" comment = EXCLUDED.comment, score = EXCLUDED.score, recorded_at = EXCLUDED.recorded_at",
				6, argtypes);
		use = plan_010;
	}
	values[0] = Int64GetDatum(o.shop_id);
	values[1] = Int64GetDatum(o.order_id);
	values[2] = CStringGetTextDatum(DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(2))));
	values[3] = PG_ARGISNULL(3) ? (nulls[3] = 'n', (Datum) 0) : PG_GETARG_DATUM(3);
	values[4] = PG_ARGISNULL(4) ? (nulls[4] = 'n', (Datum) 0) : PG_GETARG_DATUM(4);
	values[5] = TimestampTzGetDatum(om_now());
	om_exec(use, values, nulls, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}
