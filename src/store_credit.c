/*-------------------------------------------------------------------------
 *
 * store_credit.c
 *	  Store credit (seed 001's 購物金, SPEC §9, issue 17 item 11): a balance
 *	  per customer that the merchant grants and adjusts, the customer spends
 *	  at checkout as a tender, and cancellations and returns give back.
 *
 * The balance is a row of store_credit_balance per (shop, customer) with
 * CHECK (balance >= 0); every change to it writes an entry of the
 * append-only store_credit_ledger in the same statement, with the balance
 * after it, so the balance is always the sum of the ledger (verify()
 * checks it).  Credit goes out only by a conditional UPDATE (balance +
 * amount >= 0) which, like a promo code's usage limit (promo.c), waits for
 * a concurrent change of the row under READ COMMITTED and re-checks the
 * newest version: two checkouts spending the same balance cannot overdraw
 * it; the second gets OM015.  Under REPEATABLE READ or SERIALIZABLE the
 * same conflict raises 40001.
 *
 * checkout() spends credit in its first statement (checkout.c), so a
 * checkout spends no extra statement on it.  The order records what it
 * spent (orders.credit_applied); the money it must pay is total -
 * credit_applied (order_lock.c, payment.c, the guard).  Cancelling the
 * order gives back the credit it still holds; reactivating it spends the
 * credit again or fails with OM015; a plain return gives back its share
 * of the credit (its part of the goods' value), and the return that
 * brings the last unit back gives back the rest.  Every movement tied to
 * an order is also an order_event of kind store_credit.
 *
 * Lock order: the order row, then the customer's balance row, then promo
 * code rows, per-customer counters and stock rows (checkout.c, promo.c,
 * reservation.c).  Inside run_due() (NOWAIT in the acting context) the
 * balance row is locked NOWAIT first, so the sweeper never waits on it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "clock.h"
#include "context.h"
#include "events.h"
#include "money.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "rls.h"
#include "shop.h"
#include "spi_util.h"
#include "store_credit.h"

/* The customer's balance, 0 when there is no row.  Inside SPI. */
static Numeric
ReadBalance(int64 shop_id, const char *customer_id)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	if (om_exec_for_key(&plan,
						"SELECT balance FROM order_mgmt.store_credit_balance"
						" WHERE shop_id = $1 AND customer_id = $2",
						shop_id, customer_id, false, 1) == 0)
		return om_num_int(0);
	return DatumGetNumericCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Raise OM015: the customer's balance does not cover wanted.  Reads the
 * balance for the DETAIL.  Inside SPI.
 */
void
om_credit_insufficient(int64 shop_id, const char *customer_id, Numeric wanted)
{
	Numeric		balance = ReadBalance(shop_id, customer_id);

	ereport(ERROR,
			(errcode(ERRCODE_OM_INSUFFICIENT_STORE_CREDIT),
			 errmsg("customer \"%s\" has not enough store credit", customer_id),
			 errdetail("Requested %s; the balance is %s.", om_num_text(wanted),
					   om_num_text(balance)),
			 errhint("Spend at most the balance (order_mgmt.store_credit_balance()).")));
}

/*
 * Inside run_due(): lock the customer's balance row NOWAIT (55P03 when it
 * is busy, which leaves the order for the next pass).  Elsewhere nothing.
 */
void
om_credit_lock_nowait(int64 shop_id, const char *customer_id)
{
	static SPIPlanPtr plan = NULL;

	if (!om_act()->nowait)
		return;
	om_exec_for_key(&plan,
					"SELECT 1 FROM order_mgmt.store_credit_balance"
					" WHERE shop_id = $1 AND customer_id = $2 FOR NO KEY UPDATE NOWAIT",
					shop_id, customer_id, false, 0);
}

/*
 * Move amount (signed: + in, - out) of the customer's store credit, of
 * ledger kind kind, for order_id (0: none) with reason (may be NULL), in
 * one statement: the balance row and its ledger entry.  Credit going out
 * needs a balance that covers it: OM015 otherwise, with nothing changed.
 * Writes a store_credit event when there is an order.  Returns the new
 * balance.  Inside SPI.
 */
Numeric
om_credit_move(int64 shop_id, const char *customer_id, int64 order_id, const char *kind,
			   Numeric amount, const char *reason)
{
	static SPIPlanPtr in_plan = NULL;
	static SPIPlanPtr out_plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID, INT8OID, NUMERICOID, TEXTOID, TEXTOID,
	TIMESTAMPTZOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		out = om_num_cmp(amount, om_num_int(0)) < 0;
	bool		isnull;
	Numeric		balance;

#define LEDGER_INSERT \
	" INSERT INTO order_mgmt.store_credit_ledger (shop_id, customer_id, order_id, kind, amount," \
	"    balance, reason, actor, created_at)" \
	" SELECT $1, $2, $3, $5::order_mgmt.store_credit_kind, $4, b.balance, $6, $8, $7 FROM b" \
	" RETURNING balance"

	om_credit_lock_nowait(shop_id, customer_id);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(customer_id);
	values[2] = Int64GetDatum(order_id);
	nulls[2] = order_id > 0 ? ' ' : 'n';
	values[3] = NumericGetDatum(amount);
	values[4] = CStringGetTextDatum(kind);
	om_text_param(values, nulls, 5, reason);
	values[6] = TimestampTzGetDatum(om_now());
	values[7] = CStringGetTextDatum(om_actor());
	if (out)
	{
		om_plan(&out_plan,
				"WITH b AS (UPDATE order_mgmt.store_credit_balance SET balance = balance + $4,"
				"    updated_at = $7"
				"  WHERE shop_id = $1 AND customer_id = $2 AND balance + $4 >= 0 RETURNING balance)"
				LEDGER_INSERT,
				8, argtypes);
		om_exec(out_plan, values, nulls, false, 0);
		if (SPI_processed == 0)
			om_credit_insufficient(shop_id, customer_id, om_num_sub(om_num_int(0), amount));
	}
	else
	{
		om_plan(&in_plan,
				"WITH b AS (INSERT INTO order_mgmt.store_credit_balance AS c"
				"    (shop_id, customer_id, balance, updated_at) VALUES ($1, $2, $4, $7)"
				"  ON CONFLICT (shop_id, customer_id) DO UPDATE"
				"    SET balance = c.balance + EXCLUDED.balance, updated_at = EXCLUDED.updated_at"
				"  RETURNING balance)"
				LEDGER_INSERT,
				8, argtypes);
		om_exec(in_plan, values, nulls, false, 0);
	}
#undef LEDGER_INSERT
	balance = DatumGetNumericCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	if (order_id > 0)
	{
		StringInfoData d;

		initStringInfo(&d);
		appendStringInfo(&d, "{\"kind\": \"%s\", \"amount\": %s, \"balance\": %s, \"customer_id\": ",
						 kind, om_num_text(amount), om_num_text(balance));
		escape_json(&d, customer_id);
		appendStringInfoChar(&d, '}');
		om_event_write(shop_id, order_id, "store_credit", NULL, NULL, d.data);
	}
	return balance;
}

/*
 * The store credit the order still holds: what it spent less what came
 * back (entries spent and returned).  Inside SPI.
 */
static Numeric
HeldByOrder(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	Datum		values[2];
	bool		isnull;

	om_plan(&plan,
			"SELECT -coalesce(sum(amount), 0) FROM order_mgmt.store_credit_ledger"
			" WHERE shop_id = $1 AND order_id = $2 AND kind IN ('spent', 'returned')",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	om_exec(plan, values, NULL, false, 1);
	return DatumGetNumericCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The order was cancelled (any path; before shipment, so nothing came back
 * by a return): the credit it holds goes back to its customer.
 */
void
om_credit_order_cancelled(int64 shop_id, int64 order_id, const char *customer_id)
{
	Numeric		held = HeldByOrder(shop_id, order_id);

	if (customer_id && om_num_cmp(held, om_num_int(0)) > 0)
		om_credit_move(shop_id, customer_id, order_id, "returned", held, NULL);
}

/*
 * The order was reactivated: it spends its credit again, or OM015 aborts
 * the reactivation and the order stays cancelled (as OM001 does for its
 * stock, SPEC §7).
 */
void
om_credit_order_reactivated(int64 shop_id, int64 order_id, const char *customer_id,
							Numeric credit)
{
	Numeric		held = HeldByOrder(shop_id, order_id);
	Numeric		again = om_num_sub(credit, held);

	if (customer_id && om_num_cmp(again, om_num_int(0)) > 0)
		om_credit_move(shop_id, customer_id, order_id, "spent",
					   om_num_sub(om_num_int(0), again), NULL);
}

/*
 * A plain return of the order was received (before its units are counted
 * as completed): give back the return's share of the credit the order
 * spent, proportional to its part of the goods' value (refund_amount /
 * the lines' amounts less discounts), rounded to the currency, never more
 * than the order still holds; the return that brings the last unit back
 * gives back all the order still holds.  The share is recorded on the
 * request (return_request.store_credit): the money to refund is
 * refund_amount - store_credit.  Returns the credit given back.  The
 * order row is locked by the caller; the balance row is locked here,
 * before any stock row.  Inside SPI.
 */
Numeric
om_credit_for_return(int64 shop_id, int64 order_id, int64 return_id)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr mark_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, INT8OID};
	static const Oid mark_types[] = {INT8OID, INT8OID, NUMERICOID};
	Datum		values[3];
	HeapTuple	tup;
	TupleDesc	td;
	bool		isnull;
	char	   *customer_id;
	Numeric		credit;
	Numeric		refund;
	Numeric		goods;
	bool		last;
	Numeric		held;
	Numeric		back;
	Numeric		zero = om_num_int(0);

	if (!om_has_column("orders", "credit_applied"))
		return zero;
	om_plan(&plan,
			"SELECT o.customer_id, o.credit_applied, o.currency, r.refund_amount,"
			" (SELECT sum(l.unit_price * l.qty - l.discount) FROM order_mgmt.order_line l"
			"   WHERE l.shop_id = $1 AND l.order_id = $2),"
			" (SELECT coalesce(sum(rl.qty), 0) FROM order_mgmt.return_line rl"
			"    JOIN order_mgmt.return_request q ON q.shop_id = rl.shop_id AND q.return_id = rl.return_id"
			"   WHERE q.shop_id = $1 AND rl.shop_id = $1 AND q.order_id = $2 AND q.kind = 'return'"
			"     AND (q.state = 'completed' OR q.return_id = $3))"
			"  >= (SELECT sum(l.qty) FROM order_mgmt.order_line l WHERE l.shop_id = $1 AND l.order_id = $2)"
			" FROM order_mgmt.orders o JOIN order_mgmt.return_request r"
			"   ON r.shop_id = o.shop_id AND r.order_id = o.order_id"
			" WHERE o.shop_id = $1 AND r.shop_id = $1 AND o.order_id = $2 AND r.return_id = $3",
			3, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = Int64GetDatum(return_id);
	om_exec(plan, values, NULL, false, 1);
	if (SPI_processed == 0)
		return zero;
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	credit = DatumGetNumericCopy(SPI_getbinval(tup, td, 2, &isnull));
	if (heap_attisnull(tup, 1, td) || om_num_cmp(credit, zero) <= 0)
		return zero;
	customer_id = TextDatumGetCString(SPI_getbinval(tup, td, 1, &isnull));
	refund = DatumGetNumericCopy(SPI_getbinval(tup, td, 4, &isnull));
	goods = DatumGetNumericCopy(SPI_getbinval(tup, td, 5, &isnull));
	last = DatumGetBool(SPI_getbinval(tup, td, 6, &isnull));
	back = zero;
	if (om_num_cmp(goods, zero) > 0)
		back = om_num_round(om_num_div(om_num_mul(credit, refund), goods),
							om_currency_digits(TextDatumGetCString(SPI_getbinval(tup, td, 3, &isnull))));

	held = HeldByOrder(shop_id, order_id);
	back = last ? held : om_num_min(back, held);
	if (om_num_cmp(back, zero) <= 0)
		return zero;
	om_credit_move(shop_id, customer_id, order_id, "returned", back, NULL);

	om_plan(&mark_plan,
			"UPDATE order_mgmt.return_request SET store_credit = store_credit + $3"
			" WHERE shop_id = $1 AND return_id = $2",
			3, mark_types);
	values[1] = Int64GetDatum(return_id);
	values[2] = NumericGetDatum(back);
	om_exec(mark_plan, values, NULL, false, 0);
	return back;
}

/*
 * A plain return was received: when it brought the order's last unit back
 * (delivery returned) and the order was paid with store credit only, all
 * its credit is back and no money is owed, so its payment is refunded;
 * the guard then closes the order as it closes any fully returned and
 * refunded one (SPEC §10, issue 17 item 4).  An order paid partly in money
 * gets there when refund() returns the money.  Inside SPI.
 */
void
om_credit_order_returned(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;

	if (!om_has_column("orders", "credit_applied"))
		return;
	om_exec_for_order(&plan,
					  "UPDATE order_mgmt.orders SET payment_status = 'refunded'"
					  " WHERE shop_id = $1 AND order_id = $2"
					  "   AND payment_status = 'paid' AND delivery_status = 'returned'"
					  "   AND paid_amount = 0 AND credit_applied > 0",
					  shop_id, order_id);
}

/*
 * Check the merchant's amount: not NULL, finite, within range, not zero
 * (nor negative when !signed_ok), with no more decimals than the shop's
 * currency has (22023 otherwise).  Returns it in the currency's scale.
 * Inside SPI (reads the shop, OM014).
 */
static Numeric
CheckCreditAmount(int64 shop_id, Numeric amount, const char *name, bool signed_ok)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	char	   *currency;
	int			digits;
	int			sign;

	if (!OM_NUMERIC_IS_FINITE(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite amount", name),
				 errdetail("Got %s.", om_num_text(amount))));
	sign = om_num_cmp(amount, om_num_int(0));
	if (sign == 0 || (sign < 0 && !signed_ok))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be %s", name, signed_ok ? "other than 0" : "positive"),
				 errdetail("Got %s.", om_num_text(amount)),
				 signed_ok ? 0 : errhint("Take credit away with order_mgmt.adjust_store_credit().")));
	om_check_amount_range(name, sign < 0 ? om_num_sub(om_num_int(0), amount) : amount);

	om_plan(&plan, "SELECT currency FROM order_mgmt.shop WHERE shop_id = $1", 1, argtypes);
	values[0] = Int64GetDatum(shop_id);
	om_exec(plan, values, NULL, true, 1);
	if (SPI_processed == 0)
		om_shop_not_found(shop_id);
	currency = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	digits = om_currency_digits(currency);
	if (om_num_cmp(om_num_round(amount, digits), amount) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s has more decimals than %s has", name, currency),
				 errdetail("Got %s; %s has %d minor unit digits.", om_num_text(amount), currency, digits)));
	return om_num_round(amount, digits);
}

/*
 * grant_store_credit() and adjust_store_credit(): (shop_id, customer_id,
 * amount, reason) -> the new balance.
 */
static Datum
MerchantMove(FunctionCallInfo fcinfo, const char *kind, const char *amount_name, bool signed_ok)
{
	int64		shop_id;
	char	   *customer_id;
	Numeric		amount;
	char	   *reason;
	Numeric		balance;
	Datum		result;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "customer_id");
	OM_ARG_NOT_NULL(2, amount_name);
	OM_ARG_NOT_NULL(3, "reason");
	shop_id = PG_GETARG_INT64(0);
	customer_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	amount = PG_GETARG_NUMERIC(2);
	reason = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (reason[strspn(reason, " \t\r\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reason must not be empty"),
				 errhint("Say why the credit changes; the ledger keeps it.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_require_column("orders", "credit_applied", "store credit");
	amount = CheckCreditAmount(shop_id, amount, amount_name, signed_ok);
	om_require_customer(shop_id, customer_id);
	balance = om_credit_move(shop_id, customer_id, 0, kind, amount, reason);
	result = SPI_datumTransfer(NumericGetDatum(balance), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/* grant_store_credit(shop_id, customer_id, amount, reason) -> numeric */
PG_FUNCTION_INFO_V1(om_grant_store_credit);
Datum
om_grant_store_credit(PG_FUNCTION_ARGS)
{
	return MerchantMove(fcinfo, "granted", "amount", false);
}

/* adjust_store_credit(shop_id, customer_id, delta, reason) -> numeric */
PG_FUNCTION_INFO_V1(om_adjust_store_credit);
Datum
om_adjust_store_credit(PG_FUNCTION_ARGS)
{
	return MerchantMove(fcinfo, "adjusted", "delta", true);
}

/*
 * store_credit_balance(shop_id, customer_id) -> numeric: 0 for a
 * customer without credit; OM014 for an unknown shop.
 */
PG_FUNCTION_INFO_V1(om_store_credit_balance);
Datum
om_store_credit_balance(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	char	   *customer_id;
	Datum		result;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "customer_id");
	shop_id = PG_GETARG_INT64(0);
	customer_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_require_column("orders", "credit_applied", "store credit");
	om_require_shop(shop_id);
	result = SPI_datumTransfer(NumericGetDatum(ReadBalance(shop_id, customer_id)), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}
