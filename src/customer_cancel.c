/*-------------------------------------------------------------------------
 *
 * customer_cancel.c
 *	  Customer self-cancel (SPEC §8, seed 001): customer_cancel and
 *	  can_customer_cancel.
 *
 * A customer may cancel an order only when all of these hold, checked in
 * this order; the first that does not is the reason given, in words a
 * shop's UI can show:
 *
 *	1. the shop allows it (shop.allow_customer_cancel);
 *	2. the customer is a member;
 *	3. the order is theirs, or a guest order placed with their e-mail
 *	   address (compared normalized);
 *	4. the order is pending;
 *	5. its payment is unpaid or paid;
 *	6. it has not started shipping: standard orders unfulfilled,
 *	   integrated and cod orders not_executed, shipment_cancelled or
 *	   shipping_overdue.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "machines.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "order_lock.h"
#include "rls.h"
#include "spi_util.h"

/*
 * NULL if the customer may cancel the order now, else why not.  OM007 if
 * the order does not exist.  Inside SPI.
 */
static char *
WhyNot(int64 shop_id, int64 order_id, const char *customer_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID};
	Datum		values[3];
	HeapTuple	tup;
	TupleDesc	td;
	bool		isnull;
	bool		member;
	char	   *owner;
	char	   *order_email;
	char	   *customer_email;
	int			status;
	int			payment;
	int			delivery;
	bool		standard;

	om_plan(&plan,
			"SELECT s.allow_customer_cancel, coalesce(c.is_member, false), o.customer_id,"
			" o.email_key, c.email_key, o.status::text, o.payment_status::text,"
			" o.delivery_status::text, o.logistics = 'standard'"
			" FROM order_mgmt.orders o JOIN order_mgmt.shop s ON s.shop_id = o.shop_id"
			" LEFT JOIN order_mgmt.customer c ON c.shop_id = o.shop_id AND c.customer_id = $3"
			" WHERE o.shop_id = $1 AND o.order_id = $2",
			3, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = CStringGetTextDatum(customer_id);
	om_exec(plan, values, NULL, false, 1);
	if (SPI_processed == 0)
		om_order_not_found(shop_id, order_id);
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;

#define TEXT_COL(n) (heap_attisnull(tup, (n), td) ? NULL : TextDatumGetCString(SPI_getbinval(tup, td, (n), &isnull)))
	owner = TEXT_COL(3);
	order_email = TEXT_COL(4);
	customer_email = TEXT_COL(5);
	status = om_state_by_name(OM_MACHINE_ORDER, TEXT_COL(6));
	payment = om_state_by_name(OM_MACHINE_PAYMENT, TEXT_COL(7));
	delivery = om_state_by_name(OM_MACHINE_DELIVERY, TEXT_COL(8));
#undef TEXT_COL
	member = DatumGetBool(SPI_getbinval(tup, td, 2, &isnull));
	standard = DatumGetBool(SPI_getbinval(tup, td, 9, &isnull));

	if (!DatumGetBool(SPI_getbinval(tup, td, 1, &isnull)))
		return "This shop does not let customers cancel orders themselves.";
	if (!member)
		return "Only members can cancel their orders.";
	if (owner ? strcmp(owner, customer_id) != 0 :
		(order_email == NULL || customer_email == NULL || strcmp(order_email, customer_email) != 0))
		return "This order belongs to someone else.";
	if (status != OS_PENDING)
		return psprintf("The order is already %s.", om_state_name(OM_MACHINE_ORDER, status));
	if (payment != PS_UNPAID && payment != PS_PAID)
		return payment == PS_PENDING ? "Its payment is being processed." :
			payment == PS_FAILED ? "Its payment failed; the shop handles it." :
			"Its payment is being refunded.";
	if (standard ? delivery != DS_UNFULFILLED : !om_delivery_pre_shipment(delivery) || delivery == DS_UNFULFILLED)
		return "The order is already on its way.";
	return NULL;
}

/*
 * can_customer_cancel(shop_id, order_id, customer_id) -> (allowed, reason)
 */
PG_FUNCTION_INFO_V1(om_can_customer_cancel);
Datum
om_can_customer_cancel(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	char	   *why;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	OM_ARG_NOT_NULL(2, "customer_id");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	why = WhyNot(PG_GETARG_INT64(0), PG_GETARG_INT64(1), text_to_cstring(PG_GETARG_TEXT_PP(2)));
	/* why may live in SPI's memory: copy it out before SPI_finish */
	values[0] = BoolGetDatum(why == NULL);
	nulls[1] = (why == NULL);
	values[1] = why ? PointerGetDatum(om_spi_text(why)) : (Datum) 0;
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * customer_cancel(shop_id, order_id, customer_id, reason, note) -> void
 */
PG_FUNCTION_INFO_V1(om_customer_cancel);
Datum
om_customer_cancel(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	int64		order_id;
	char	   *customer_id;
	char	   *why;
	OmOrder		o;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	OM_ARG_NOT_NULL(2, "customer_id");
	OM_ARG_NOT_NULL(3, "reason");
	shop_id = PG_GETARG_INT64(0);
	order_id = PG_GETARG_INT64(1);
	customer_id = text_to_cstring(PG_GETARG_TEXT_PP(2));

	om_enter_order(shop_id, order_id, &o);
	why = WhyNot(shop_id, order_id, customer_id);
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_OM_CUSTOMER_CANCEL_NOT_ALLOWED),
				 errmsg("customer \"%s\" cannot cancel order " INT64_FORMAT, customer_id, order_id),
				 errdetail("%s", why)));
	om_move_status(shop_id, order_id, "cancelled",
				   DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(3))),
				   PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4)),
				   "customer");
	SPI_finish();
	PG_RETURN_VOID();
}
