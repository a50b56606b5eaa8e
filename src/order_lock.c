/*-------------------------------------------------------------------------
 *
 * order_lock.c
 *	  Taking an order: lock its row, apply its overdue deadlines, and
 *	  "no such order" (OM007); moving its status with one UPDATE.
 *
 * Every API call that acts on an existing order starts here, so this file
 * sits below promo, the effects and the API: it calls only the per-order
 * due action (due_action.c) and the utilities.
 *
 * Lock order: the order row first (FOR UPDATE), then what the caller and
 * the triggers lock after it (promo code, stock rows by SKU).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "clock.h"
#include "due_action.h"
#include "machines.h"
#include "om_errcodes.h"
#include "order_lock.h"
#include "spi_util.h"

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
	static SPIPlanPtr lock_plan_010 = NULL;
	static SPIPlanPtr due_plan = NULL;
	static SPIPlanPtr due_plan_010 = NULL;
	static const Oid lock_types[] = {INT8OID, INT8OID};
	static const Oid due_types[] = {INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		values[3];
	int			pass;
	SPIPlanPtr	lock;
	SPIPlanPtr	due;

	/*
	 * Two statements on purpose: the due rows are read after the order lock
	 * is granted, with a new snapshot, so a deadline that a sweeper holding
	 * the lock has just scheduled is seen.  Store credit (0.2.0) is a
	 * tender: the money due is total - credit_applied.
	 */
#define LOCK_SQL(DUE) \
	"SELECT status::text, payment_status::text, total, paid_amount, refunded_amount," \
	" delivery_status::text, logistics = 'standard', archived_at IS NOT NULL, " DUE \
	" FROM order_mgmt.orders WHERE shop_id = $1 AND order_id = $2 FOR UPDATE"

	if (om_has_column("orders", "credit_applied"))
		lock = om_plan(&lock_plan, LOCK_SQL("total - credit_applied"), 2, lock_types);
	else
		lock = om_plan(&lock_plan_010, LOCK_SQL("total"), 2, lock_types);
#undef LOCK_SQL

	/*
	 * The due rows, and (0.2.0, due_action.h) the payment timeout when
	 * payment_due_at has passed on an order still awaiting payment, unless
	 * a failing timeout row stands for it.
	 */
#define DUE_ROWS_SQL \
	"SELECT action::text, reason::text, due_at FROM order_mgmt.due_action" \
	" WHERE shop_id = $1 AND order_id = $2 AND due_at <= $3"
	if (om_timeouts_on_orders())
		due = om_plan(&due_plan,
					  DUE_ROWS_SQL
					  " UNION ALL SELECT 'payment_timeout', NULL, o.payment_due_at FROM order_mgmt.orders o"
					  " WHERE o.shop_id = $1 AND o.order_id = $2 AND o.payment_due_at <= $3"
					  "   AND" OM_AWAITING_PAYMENT("o") " AND" OM_NO_TIMEOUT_ROW("o")
					  " ORDER BY 3",
					  3, due_types);
	else
		due = om_plan(&due_plan_010, DUE_ROWS_SQL " ORDER BY due_at", 3, due_types);
#undef DUE_ROWS_SQL
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

		om_exec(lock, values, NULL, false, 0);
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
		order->delivery = om_state_by_name(OM_MACHINE_DELIVERY,
										   TextDatumGetCString(SPI_getbinval(tt->vals[0], tt->tupdesc, 6, &isnull)));
		order->standard = DatumGetBool(SPI_getbinval(tt->vals[0], tt->tupdesc, 7, &isnull));
		order->archived = DatumGetBool(SPI_getbinval(tt->vals[0], tt->tupdesc, 8, &isnull));
		order->due = DatumGetNumericCopy(SPI_getbinval(tt->vals[0], tt->tupdesc, 9, &isnull));
		if (pass == 3)
			break;

		om_exec(due, values, NULL, false, 0);	/* a new snapshot */
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
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	Oid			argtypes[6] = {INT8OID, INT8OID, TEXTOID, om_type_oid("cancel_reason"),
	TEXTOID, om_type_oid("cancel_source")};

	/* $4 and $6 are of the enum types (om_plan(): Citus and COALESCE) */
	om_plan(&plan,
			"UPDATE order_mgmt.orders SET status = $3::order_mgmt.order_status,"
			" cancel_reason = coalesce($4, cancel_reason),"
			" cancel_note = coalesce($5, cancel_note),"
			" cancel_source = coalesce($6, cancel_source)"
			" WHERE shop_id = $1 AND order_id = $2",
			6, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = CStringGetTextDatum(status);
	om_enum_param(plan, values, nulls, 3, reason);
	om_text_param(values, nulls, 4, note);
	om_enum_param(plan, values, nulls, 5, source);
	om_exec_quiet(plan, values, nulls, false, 0);
}

/*
 * The start of every API call on one existing order: connect to SPI and
 * take the order (om_lock_order).  The caller ends with SPI_finish().
 */
void
om_enter_order(int64 shop_id, int64 order_id, OmOrder *order)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_lock_order(shop_id, order_id, order);
}
