/*-------------------------------------------------------------------------
 *
 * order_api.c
 *	  The order operations of SPEC §7: cancel, confirm, reactivate.
 *
 * Each is a thin entry point: lock the order and apply its overdue
 * deadlines (om_lock_order), then one UPDATE of the order row.  Asking for
 * the state an order is already in (cancel a cancelled order, confirm a
 * confirmed one) changes nothing and is not an error, so callers may retry.  The guard
 * trigger judges the move and the effects trigger does the rest (stock,
 * promo, deadlines, events), exactly as for a DBA's plain UPDATE.
 *
 *-------------------------------------------------------------------------
 */
#include "order_mgmt.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

void
om_order_not_found(int64 shop_id, int64 order_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_OM_ORDER_NOT_FOUND),
			 errmsg("order " INT64_FORMAT " does not exist in shop " INT64_FORMAT,
					order_id, shop_id)));
}

/*
 * Lock the order row and apply its overdue deadlines first (SPEC §13: lazy
 * application, so correctness never depends on the sweeper being on time).
 * Fills *order with the state after that.  OM007 if there is no such
 * order.  Inside SPI.
 */
void
om_lock_order(int64 shop_id, int64 order_id, OmOrder *order)
{
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr due_plan = NULL;
	static const Oid lock_types[] = {INT8OID, INT8OID};
	static const Oid due_types[] = {INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		values[3];
	int			pass;

	/*
	 * Two statements on purpose: the due rows are read after the order lock
	 * is granted, with a new snapshot, so a deadline that a sweeper holding
	 * the lock has just scheduled is seen.
	 */
	om_plan(&lock_plan,
			"SELECT status::text, payment_status::text, total, paid_amount, refunded_amount"
			" FROM order_mgmt.orders WHERE shop_id = $1 AND order_id = $2 FOR UPDATE",
			2, lock_types);
	om_plan(&due_plan,
			"SELECT action::text, reason::text FROM order_mgmt.due_action"
			" WHERE shop_id = $1 AND order_id = $2 AND due_at <= $3 ORDER BY due_at",
			3, due_types);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(om_now());

	/* an action can make another due at once (a timeout, then an auto-cancel) */
	for (pass = 0; pass < 4; pass++)
	{
		SPITupleTable *tt;
		uint64		n;
		uint64		i;
		bool		isnull;
		bool		applied = false;

		om_exec(lock_plan, values, NULL, false, 0);
		if (SPI_processed == 0)
			om_order_not_found(shop_id, order_id);
		tt = SPI_tuptable;
		order->shop_id = shop_id;
		order->order_id = order_id;
		order->status = om_state_by_name(OM_MACHINE_ORDER,
										 TextDatumGetCString(SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull)));
		order->payment = om_state_by_name(OM_MACHINE_PAYMENT,
										  TextDatumGetCString(SPI_getbinval(tt->vals[0], tt->tupdesc, 2, &isnull)));
		order->total = DatumGetNumericCopy(SPI_getbinval(tt->vals[0], tt->tupdesc, 3, &isnull));
		order->paid_amount = DatumGetNumericCopy(SPI_getbinval(tt->vals[0], tt->tupdesc, 4, &isnull));
		order->refunded_amount = DatumGetNumericCopy(SPI_getbinval(tt->vals[0], tt->tupdesc, 5, &isnull));
		if (pass == 3)
			break;

		om_exec(due_plan, values, NULL, false, 0);	/* a new snapshot */
		tt = SPI_tuptable;
		n = SPI_processed;
		for (i = 0; i < n; i++)
		{
			char	   *action = TextDatumGetCString(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
			Datum		reason = SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull);

			applied |= om_apply_due_action(shop_id, order_id, action,
										   isnull ? NULL : TextDatumGetCString(reason));
		}
		if (!applied)
			break;
	}
}

/*
 * Move the order's status; the triggers judge and do the rest.  reason,
 * note and source set the cancellation columns (NULL leaves them).
 */
void
om_move_status(int64 shop_id, int64 order_id, const char *status, const char *reason,
			   const char *note, const char *source)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	om_plan(&plan,
			"UPDATE order_mgmt.orders SET status = $3::order_mgmt.order_status,"
			" cancel_reason = coalesce($4::order_mgmt.cancel_reason, cancel_reason),"
			" cancel_note = coalesce($5, cancel_note),"
			" cancel_source = coalesce($6::order_mgmt.cancel_source, cancel_source)"
			" WHERE shop_id = $1 AND order_id = $2",
			6, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = CStringGetTextDatum(status);
#define TEXT_OR_NULL(n, s) \
	do { if (s) values[n] = CStringGetTextDatum(s); else nulls[n] = 'n'; } while (0)
	TEXT_OR_NULL(3, reason);
	TEXT_OR_NULL(4, note);
	TEXT_OR_NULL(5, source);
#undef TEXT_OR_NULL
	om_exec_quiet(plan, values, nulls, false, 0);
}

static char *
EnumArg(FunctionCallInfo fcinfo, int n)
{
	return DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(n)));
}

/*
 * cancel(shop_id, order_id, reason, note, source) -> void
 */
PG_FUNCTION_INFO_V1(om_cancel);
Datum
om_cancel(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	int64		order_id;
	OmOrder		order;

	OM_ARG_NOT_NULL(0, "shop_id");
	OM_ARG_NOT_NULL(1, "order_id");
	OM_ARG_NOT_NULL(2, "reason");
	OM_ARG_NOT_NULL(4, "source");
	shop_id = PG_GETARG_INT64(0);
	order_id = PG_GETARG_INT64(1);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_lock_order(shop_id, order_id, &order);
	/* already cancelled (perhaps by a deadline just applied): nothing to do */
	if (order.status != OS_CANCELLED)
		om_move_status(shop_id, order_id, "cancelled", EnumArg(fcinfo, 2),
					   PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
					   EnumArg(fcinfo, 4));
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * confirm(shop_id, order_id) -> void
 */
PG_FUNCTION_INFO_V1(om_confirm);
Datum
om_confirm(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	int64		order_id;
	OmOrder		order;

	OM_ARG_NOT_NULL(0, "shop_id");
	OM_ARG_NOT_NULL(1, "order_id");
	shop_id = PG_GETARG_INT64(0);
	order_id = PG_GETARG_INT64(1);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_lock_order(shop_id, order_id, &order);
	if (order.status == OS_CONFIRMED)
	{
		SPI_finish();
		PG_RETURN_VOID();		/* staying put is not a move */
	}
	if (order.status == OS_CANCELLED)
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot confirm order " INT64_FORMAT ": it is cancelled", order_id),
				 errhint("Reactivate it with order_mgmt.reactivate().")));
	om_move_status(shop_id, order_id, "confirmed", NULL, NULL, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * reactivate(shop_id, order_id, to_status) -> void
 *
 * Holds the stock again and re-claims the promo code, all or nothing: on
 * OM001/OM003/OM004 the order stays cancelled, its record intact.
 */
PG_FUNCTION_INFO_V1(om_reactivate);
Datum
om_reactivate(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	int64		order_id;
	char	   *to_status;
	OmOrder		order;

	OM_ARG_NOT_NULL(0, "shop_id");
	OM_ARG_NOT_NULL(1, "order_id");
	OM_ARG_NOT_NULL(2, "to_status");
	shop_id = PG_GETARG_INT64(0);
	order_id = PG_GETARG_INT64(1);
	to_status = EnumArg(fcinfo, 2);
	if (strcmp(to_status, "pending") != 0 && strcmp(to_status, "confirmed") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("to_status must be pending or confirmed"),
				 errdetail("Got %s.", to_status)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_lock_order(shop_id, order_id, &order);
	if (order.status != OS_CANCELLED)
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot reactivate order " INT64_FORMAT ": it is %s, not cancelled",
						order_id, om_state_name(OM_MACHINE_ORDER, order.status))));
	om_move_status(shop_id, order_id, to_status, NULL, NULL, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}
