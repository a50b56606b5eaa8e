/*-------------------------------------------------------------------------
 *
 * order_api.c
 *	  The order operations of SPEC §7: cancel, confirm, reactivate.
 *
 * Each is a thin entry point: lock the order and apply its overdue
 * deadlines (om_lock_order, order_lock.c), then one UPDATE of the order
 * row (om_move_status).  Asking for
 * the state an order is already in (cancel a cancelled order, confirm a
 * confirmed one) changes nothing and is not an error, so callers may retry.  The guard
 * trigger judges the move and the effects trigger does the rest (stock,
 * promo, deadlines, events), exactly as for a DBA's plain UPDATE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "context.h"
#include "machines.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "order_lock.h"
#include "rls.h"

static char *
EnumArg(FunctionCallInfo fcinfo, int n)
{
	return DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(n)));
}

/*
 * Who may claim a cancellation's source (SPEC §7): merchant anyone who
 * may call cancel(); customer only customer_cancel(), which checks the
 * self-cancel rules (SPEC §8); system only the sweeper or a superuser.
 * Raises 42501 otherwise.
 */
static void
CheckSourceClaim(const char *source)
{
	if (strcmp(source, "customer") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cancel() cannot cancel for the customer"),
				 errdetail("Source customer is claimed only by order_mgmt.customer_cancel(), which checks the self-cancel rules."),
				 errhint("Call order_mgmt.customer_cancel(shop_id, order_id, customer_id, reason), or cancel as the merchant.")));
	if (strcmp(source, "system") == 0 &&
		om_act()->actor != OM_ACTOR_SYSTEM && !superuser_arg(GetOuterUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cancel() cannot cancel for the system"),
				 errdetail("Source system is claimed only by the deadlines run_due() performs, or by a superuser."),
				 errhint("Cancel as the merchant (source => 'merchant').")));
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

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	OM_ARG_NOT_NULL(2, "reason");
	OM_ARG_NOT_NULL(4, "source");
	shop_id = PG_GETARG_INT64(0);
	order_id = PG_GETARG_INT64(1);
	CheckSourceClaim(EnumArg(fcinfo, 4));

	om_enter_order(shop_id, order_id, &order);
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

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	shop_id = PG_GETARG_INT64(0);
	order_id = PG_GETARG_INT64(1);

	om_enter_order(shop_id, order_id, &order);
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

	OM_SHOP_ARG(0);
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

	om_enter_order(shop_id, order_id, &order);
	if (order.status != OS_CANCELLED)
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot reactivate order " INT64_FORMAT ": it is %s, not cancelled",
						order_id, om_state_name(OM_MACHINE_ORDER, order.status))));
	om_move_status(shop_id, order_id, to_status, NULL, NULL, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}
