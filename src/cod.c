/*-------------------------------------------------------------------------
 *
 * cod.c
 *	  Cash on delivery (SPEC §6, issue 17): when a cod order's delivery
 *	  becomes collected, the customer has paid the carrier, so the order's
 *	  payment becomes paid with its total.  A cod order is one with
 *	  logistics cod or payment_method cod (as for its payment timeout,
 *	  checkout.c).
 *
 * Called by the effects trigger (order_effects.c) after a row moved its
 * delivery to collected, on every path (set_delivery_status, ship, a
 * plain UPDATE).  The money is recorded as a succeeded charge from the
 * carrier, with provider_ref "cod:<order_id>" (unique per shop), so it is
 * recorded once however often the order is collected; then the order's
 * payment moves through the machine like any other payment (an UPDATE
 * the guard and effects judge).  A shop that records COD remittances
 * itself (shop.cod_paid_on_collect false) pays the order with
 * payment_succeeded() or mark_paid() when the carrier remits.
 *
 * Locks: the order row, which the UPDATE that collected it holds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "clock.h"
#include "cod.h"
#include "events.h"
#include "money.h"
#include "spi_util.h"

/*
 * The order, just collected, is a cod order not yet paid whose shop wants
 * collection to pay it: record the carrier's payment of what is still to
 * pay and move its payment to paid.  Does nothing otherwise, or when the
 * carrier's payment is recorded already.  Inside SPI.
 */
void
om_cod_collected(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_010 = NULL;
	static SPIPlanPtr pay_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID};
	static const Oid pay_types[] = {INT8OID, INT8OID, NUMERICOID};
	bool		setting = om_has_column("shop", "cod_paid_on_collect");
	Datum		values[3];
	bool		isnull;
	Numeric		amount;
	char	   *ref;
	char	   *detail;

	/* a 0.1.0 schema has no setting: collection pays, as it does by default */
#define COD_INSERT(DUE, SETTING) \
	"INSERT INTO order_mgmt.payment (shop_id, order_id, kind, status, amount, provider_ref," \
	"    method, created_at)" \
	" SELECT o.shop_id, o.order_id, 'charge', 'succeeded'," \
	"    " DUE " - (o.paid_amount - o.refunded_amount), 'cod:' || o.order_id, 'cod', $3" \
	" FROM order_mgmt.orders o JOIN order_mgmt.shop s ON s.shop_id = o.shop_id" \
	" WHERE o.shop_id = $1 AND o.order_id = $2" \
	"   AND (o.logistics = 'cod' OR o.payment_method = 'cod')" \
	"   AND o.status <> 'cancelled' AND o.delivery_status = 'collected'" \
	"   AND o.payment_status IN ('unpaid', 'pending', 'failed')" \
	"   AND o.paid_amount - o.refunded_amount < " DUE SETTING \
	" ON CONFLICT (shop_id, provider_ref) DO NOTHING" \
	" RETURNING amount, provider_ref"

	om_plan(setting ? &plan : &plan_010,
			setting ? COD_INSERT("(o.total - o.credit_applied)", " AND s.cod_paid_on_collect") :
			COD_INSERT("o.total", ""),
			3, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(om_now());
	om_exec(setting ? plan : plan_010, values, NULL, false, 0);
	if (SPI_processed == 0)
		return;
	amount = DatumGetNumericCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	ref = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

	om_plan(&pay_plan,
			"UPDATE order_mgmt.orders SET payment_status = 'paid', paid_amount = paid_amount + $3"
			" WHERE shop_id = $1 AND order_id = $2",
			3, pay_types);
	values[2] = NumericGetDatum(amount);
	om_exec_quiet(pay_plan, values, NULL, false, 0);

	detail = psprintf("{\"amount\": %s, \"provider_ref\": \"%s\", \"method\": \"cod\", \"note\": \"collected by the carrier\"}",
					  om_num_text(amount), ref);
	om_event_write(shop_id, order_id, "payment", NULL, NULL, detail);
}
