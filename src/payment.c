/*-------------------------------------------------------------------------
 *
 * payment.c
 *	  Payments (SPEC §6): payment_started, payment_succeeded,
 *	  payment_failed, mark_paid, refund.
 *
 * Every attempt is a row of order_mgmt.payment; provider_ref is unique per
 * shop, so a provider's callback delivered twice changes nothing the second
 * time.  The order's paid_amount and refunded_amount are the sums of the
 * succeeded charges and refunds (verify() checks it), and its
 * payment_status moves through the same guarded UPDATE as any other path.
 *
 * Money is never silently dropped: a successful payment for a cancelled
 * order first tries to reactivate it (in a subtransaction); if its stock
 * or promo code is gone, the money is recorded, the order stays cancelled
 * and the payment moves to refunding with a refund_owed event.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "clock.h"
#include "events.h"
#include "icu.h"
#include "machines.h"
#include "money.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "order_lock.h"
#include "rls.h"
#include "spi_util.h"
#include "store_credit.h"

static void
CheckAmount(Numeric amount, const char *what)
{
	if (!OM_NUMERIC_IS_FINITE(amount) || om_num_cmp(amount, om_num_int(0)) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OM_PAYMENT_MISMATCH),
				 errmsg("%s amount must be positive", what),
				 errdetail("Got %s.", om_num_text(amount))));
	om_check_amount_range(psprintf("%s amount", what), amount);
}

/*
 * The payment row with this provider_ref, if any: returns whether one
 * exists for this order (and its status in *status); raises 22023 if it
 * belongs to another order.
 */
static bool
FindByRef(const OmOrder *o, const char *provider_ref, char **status, char **kind)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	int64		other;

	if (provider_ref == NULL)
		return false;
	om_plan(&plan,
			"SELECT order_id, status::text, kind::text FROM order_mgmt.payment"
			" WHERE shop_id = $1 AND provider_ref = $2",
			2, argtypes);
	values[0] = Int64GetDatum(o->shop_id);
	values[1] = CStringGetTextDatum(provider_ref);
	/* not read-only: a new snapshot sees a duplicate committed while we waited */
	om_exec(plan, values, NULL, false, 1);
	if (SPI_processed == 0)
		return false;
	other = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (other != o->order_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("provider_ref \"%s\" belongs to order " INT64_FORMAT ", not " INT64_FORMAT,
						provider_ref, other, o->order_id),
				 errdetail("provider_ref is unique per shop: one payment attempt, one reference.")));
	*status = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	*kind = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	return true;
}

/*
 * Record a payment attempt; an existing row with the same provider_ref
 * (a pending attempt from payment_started) is completed instead.
 * refund_method (a refund's, or NULL) needs the 0.2.0 schema.
 */
static void
RecordPayment(const OmOrder *o, const char *kind, const char *status, Numeric amount,
			  const char *provider_ref, const char *method, const char *failure,
			  const char *refund_method)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr refund_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, TEXTOID, NUMERICOID, TEXTOID,
	TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[10];
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

#define PAYMENT_INSERT(COLUMN, VALUE) \
	"INSERT INTO order_mgmt.payment AS p (shop_id, order_id, kind, status, amount," \
	" provider_ref, method, failure_reason, created_at" COLUMN ")" \
	" VALUES ($1, $2, $3::order_mgmt.payment_kind, $4::order_mgmt.payment_result, $5," \
	" $6, $7, $8, $9" VALUE ")" \
	" ON CONFLICT (shop_id, provider_ref) DO UPDATE SET status = EXCLUDED.status," \
	" amount = EXCLUDED.amount, method = coalesce(EXCLUDED.method, p.method)," \
	" failure_reason = EXCLUDED.failure_reason" \
	" WHERE p.order_id = EXCLUDED.order_id AND p.kind = EXCLUDED.kind" \
	"   AND p.status <> 'succeeded'"

	if (refund_method)
	{
		om_require_column("payment", "refund_method", "a refund's method");
		om_plan(&refund_plan,
				PAYMENT_INSERT(", refund_method", ", $10::order_mgmt.refund_method"),
				10, argtypes);
	}
	else
		om_plan(&plan, PAYMENT_INSERT("", ""), 9, argtypes);
#undef PAYMENT_INSERT
	values[0] = Int64GetDatum(o->shop_id);
	values[1] = Int64GetDatum(o->order_id);
	values[2] = CStringGetTextDatum(kind);
	values[3] = CStringGetTextDatum(status);
	values[4] = NumericGetDatum(amount);
	om_text_param(values, nulls, 5, provider_ref);
	om_text_param(values, nulls, 6, method);
	om_text_param(values, nulls, 7, failure);
	values[8] = TimestampTzGetDatum(om_now());
	om_text_param(values, nulls, 9, refund_method);
	om_exec(refund_method ? refund_plan : plan, values, nulls, false, 0);

	/*
	 * Nothing written: a concurrent call took this provider_ref first, for
	 * another order or as a finished attempt.  Never write over it.
	 */
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("provider_ref \"%s\" is already used by another payment", provider_ref),
				 errdetail("provider_ref is unique per shop: one payment attempt, one reference."),
				 errhint("Retry the call: a duplicate callback then changes nothing.")));
}

/* Write the order's money and payment status (NULL amounts: unchanged). */
static void
UpdateOrder(const OmOrder *o, int payment, Numeric paid, Numeric refunded)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, NUMERICOID, NUMERICOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	om_plan(&plan,
			"UPDATE order_mgmt.orders SET payment_status = $3::order_mgmt.payment_status,"
			" paid_amount = coalesce($4, paid_amount), refunded_amount = coalesce($5, refunded_amount)"
			" WHERE shop_id = $1 AND order_id = $2",
			5, argtypes);
	values[0] = Int64GetDatum(o->shop_id);
	values[1] = Int64GetDatum(o->order_id);
	values[2] = CStringGetTextDatum(om_state_name(OM_MACHINE_PAYMENT, payment));
	values[3] = paid ? NumericGetDatum(paid) : (nulls[3] = 'n', (Datum) 0);
	values[4] = refunded ? NumericGetDatum(refunded) : (nulls[4] = 'n', (Datum) 0);
	om_exec_quiet(plan, values, nulls, false, 0);
}

/*
 * An event of a money kind: {"amount": .., "provider_ref": .., <key>: ..,
 * <key2>: ..}, each of the last three only when given.
 */
static void
MoneyEventWith(const OmOrder *o, const char *kind, Numeric amount, const char *provider_ref,
			   const char *key, const char *value, const char *key2, const char *value2)
{
	StringInfoData d;

	initStringInfo(&d);
	appendStringInfo(&d, "{\"amount\": %s", om_num_text(amount));
	if (provider_ref)
	{
		appendStringInfoString(&d, ", \"provider_ref\": ");
		escape_json(&d, provider_ref);
	}
	if (value)
	{
		appendStringInfo(&d, ", \"%s\": ", key);
		escape_json(&d, value);
	}
	if (value2)
	{
		appendStringInfo(&d, ", \"%s\": ", key2);
		escape_json(&d, value2);
	}
	appendStringInfoChar(&d, '}');
	om_event_write(o->shop_id, o->order_id, kind, NULL, NULL, d.data);
}

/* An event of a money kind: {"amount": .., "provider_ref": .., <key>: ..}. */
static void
MoneyEvent(const OmOrder *o, const char *kind, Numeric amount, const char *provider_ref,
		   const char *key, const char *value)
{
	MoneyEventWith(o, kind, amount, provider_ref, key, value, NULL, NULL);
}

/*
 * What is still to pay in money: due - (paid - refunded), never below 0,
 * where due is the total less the store credit the order spent.
 */
static Numeric
Outstanding(const OmOrder *o)
{
	Numeric		left = om_num_sub(o->due, om_num_sub(o->paid_amount, o->refunded_amount));

	return om_num_cmp(left, om_num_int(0)) > 0 ? left : om_num_int(0);
}

static char *
OptText(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * provider_ref, or NULL: a key of a unique index, so an identifier (22023
 * when empty, longer than OM_MAX_IDENT characters or with invisible
 * characters) rather than a value the index cannot hold (54000).
 */
static char *
OptRef(FunctionCallInfo fcinfo, int n)
{
	char	   *ref = OptText(fcinfo, n);

	if (ref)
		om_check_identifier("provider_ref", ref);
	return ref;
}

/* The payment_status enum value to return (the function's result type). */
static Datum
StatusResult(FunctionCallInfo fcinfo, int payment)
{
	return om_state_to_datum(OM_MACHINE_PAYMENT, get_fn_expr_rettype(fcinfo->flinfo), payment);
}

/* Enter SPI and lock the order, applying its overdue deadlines. */
static void
Begin(FunctionCallInfo fcinfo, OmOrder *o)
{
	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	om_enter_order(PG_GETARG_INT64(0), PG_GETARG_INT64(1), o);
}

#define RETURN_STATUS(payment) \
	do { SPI_finish(); PG_RETURN_DATUM(StatusResult(fcinfo, payment)); } while (0)

/*
 * payment_started(shop_id, order_id, provider_ref) -> payment_status
 */
PG_FUNCTION_INFO_V1(om_payment_started);
Datum
om_payment_started(PG_FUNCTION_ARGS)
{
	OmOrder		o;
	char	   *ref = OptRef(fcinfo, 2);
	char	   *status;
	char	   *kind;

	Begin(fcinfo, &o);
	if (FindByRef(&o, ref, &status, &kind))
		RETURN_STATUS(o.payment);	/* the same callback again */
	if (o.status == OS_CANCELLED)
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot start a payment for cancelled order " INT64_FORMAT, o.order_id),
				 errdetail("Machine payment_status refuses %s to pending while the order is cancelled.",
						   om_state_name(OM_MACHINE_PAYMENT, o.payment)),
				 errhint("Reactivate the order first with order_mgmt.reactivate().")));
	if (o.payment != PS_PENDING)
		UpdateOrder(&o, PS_PENDING, NULL, NULL);
	RecordPayment(&o, "charge", "pending", Outstanding(&o), ref, NULL, NULL, NULL);
	RETURN_STATUS(PS_PENDING);
}

typedef struct ReactivateArg
{
	const OmOrder *o;
} ReactivateArg;

static void
TryReactivate(void *arg)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	const OmOrder *o = ((ReactivateArg *) arg)->o;
	Datum		values[2];

	om_plan(&plan,
			"UPDATE order_mgmt.orders SET status = 'confirmed' WHERE shop_id = $1 AND order_id = $2",
			2, argtypes);
	values[0] = Int64GetDatum(o->shop_id);
	values[1] = Int64GetDatum(o->order_id);
	om_exec(plan, values, NULL, false, 0);
}

/*
 * payment_succeeded(shop_id, order_id, amount, provider_ref, method)
 *	-> payment_status
 */
PG_FUNCTION_INFO_V1(om_payment_succeeded);
Datum
om_payment_succeeded(PG_FUNCTION_ARGS)
{
	static const int gone[] = {ERRCODE_OM_INSUFFICIENT_STOCK, ERRCODE_OM_PROMO_CODE_EXHAUSTED,
	ERRCODE_OM_PROMO_CUSTOMER_LIMIT, ERRCODE_OM_INSUFFICIENT_STORE_CREDIT};
	OmOrder		o;
	Numeric		amount;
	char	   *ref = OptRef(fcinfo, 3);
	char	   *method = OptText(fcinfo, 4);
	char	   *status;
	char	   *kind;
	Numeric		paid;
	Numeric		net;
	int			payment = -1;

	OM_SHOP_ARG(0);			/* before the other arguments are judged */
	OM_ARG_NOT_NULL(2, "amount");
	amount = PG_GETARG_NUMERIC(2);
	CheckAmount(amount, "payment");
	Begin(fcinfo, &o);
	if (FindByRef(&o, ref, &status, &kind) && strcmp(status, "succeeded") == 0)
		RETURN_STATUS(o.payment);	/* the same callback again */

	RecordPayment(&o, "charge", "succeeded", amount, ref, method, NULL, NULL);
	MoneyEvent(&o, "payment", amount, ref, "method", method);
	paid = om_num_add(o.paid_amount, amount);
	net = om_num_sub(paid, o.refunded_amount);

	if (o.status == OS_CANCELLED &&
		(o.payment == PS_UNPAID || o.payment == PS_PENDING || o.payment == PS_FAILED))
	{
		/* late capture: the order comes back if its stock and promo still can */
		ReactivateArg arg = {&o};
		ErrorData  *why = NULL;

		if (om_try(TryReactivate, &arg, gone, lengthof(gone), &why))
			o.status = OS_CONFIRMED;
		else
		{
			UpdateOrder(&o, PS_PAID, paid, NULL);
			UpdateOrder(&o, PS_REFUNDING, NULL, NULL);
			MoneyEvent(&o, "refund_owed", amount, ref, "reason", why->message);
			RETURN_STATUS(PS_REFUNDING);
		}
	}

	if (o.status == OS_CANCELLED)
	{
		/* money for an order whose money is already being returned */
		UpdateOrder(&o, PS_REFUNDING, paid, NULL);
		MoneyEvent(&o, "refund_owed", amount, ref, "reason", "the order is cancelled");
		RETURN_STATUS(PS_REFUNDING);
	}

	if (o.payment == PS_REFUNDED)
	{
		/*
		 * Money again after a full refund (a late or duplicate capture):
		 * it is owed back, so the payment rests in refunding (SPEC §3.2),
		 * never in refunded with money kept.
		 */
		UpdateOrder(&o, PS_REFUNDING, paid, NULL);
		MoneyEvent(&o, "refund_owed", amount, ref, "reason", "the order's money was already refunded");
		RETURN_STATUS(PS_REFUNDING);
	}
	if (o.payment == PS_UNPAID || o.payment == PS_PENDING || o.payment == PS_FAILED)
		payment = om_num_cmp(net, o.due) >= 0 ? PS_PAID : o.payment;
	else
		payment = o.payment;	/* more money for a paid order */
	UpdateOrder(&o, payment, paid, NULL);
	if (om_num_cmp(net, o.due) > 0)
		MoneyEvent(&o, "overpaid", om_num_sub(net, o.due), ref, "note",
				   "money above the order total is owed back");
	RETURN_STATUS(payment);
}

/*
 * payment_failed(shop_id, order_id, reason, provider_ref) -> payment_status
 */
PG_FUNCTION_INFO_V1(om_payment_failed);
Datum
om_payment_failed(PG_FUNCTION_ARGS)
{
	OmOrder		o;
	char	   *reason;
	char	   *ref = OptRef(fcinfo, 3);
	char	   *status;
	char	   *kind;
	int			payment;

	OM_SHOP_ARG(0);			/* before the other arguments are judged */
	OM_ARG_NOT_NULL(2, "reason");
	reason = text_to_cstring(PG_GETARG_TEXT_PP(2));
	Begin(fcinfo, &o);
	if (FindByRef(&o, ref, &status, &kind) && strcmp(status, "pending") != 0)
		RETURN_STATUS(o.payment);	/* the same callback again */

	RecordPayment(&o, "charge", "failed", Outstanding(&o), ref, NULL, reason, NULL);
	/* after payment, or for a cancelled order, a failure changes no status */
	payment = o.payment;
	if (o.status != OS_CANCELLED && (o.payment == PS_UNPAID || o.payment == PS_PENDING))
	{
		payment = PS_FAILED;
		UpdateOrder(&o, payment, NULL, NULL);
	}
	{
		StringInfoData d;

		initStringInfo(&d);
		appendStringInfoString(&d, "{\"result\": \"failed\", \"reason\": ");
		escape_json(&d, reason);
		appendStringInfoChar(&d, '}');
		om_event_write(o.shop_id, o.order_id, "payment", NULL, NULL, d.data);
	}
	RETURN_STATUS(payment);
}

/*
 * mark_paid(shop_id, order_id, note) -> payment_status: the merchant
 * collected the money another way (bank transfer).
 */
PG_FUNCTION_INFO_V1(om_mark_paid);
Datum
om_mark_paid(PG_FUNCTION_ARGS)
{
	OmOrder		o;
	Numeric		outstanding;

	Begin(fcinfo, &o);
	if (o.status == OS_CANCELLED)
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot mark cancelled order " INT64_FORMAT " paid", o.order_id),
				 errhint("Reactivate the order first with order_mgmt.reactivate().")));
	if (!(o.payment == PS_UNPAID || o.payment == PS_PENDING || o.payment == PS_FAILED))
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot mark order " INT64_FORMAT " paid: its payment is %s",
						o.order_id, om_state_name(OM_MACHINE_PAYMENT, o.payment)),
				 errdetail("mark_paid moves payment from unpaid, pending or failed to paid.")));

	outstanding = Outstanding(&o);
	if (om_num_cmp(outstanding, om_num_int(0)) > 0)
	{
		RecordPayment(&o, "charge", "succeeded", outstanding, NULL, "manual", NULL, NULL);
		MoneyEvent(&o, "payment", outstanding, NULL, "note", OptText(fcinfo, 2));
		UpdateOrder(&o, PS_PAID, om_num_add(o.paid_amount, outstanding), NULL);
	}
	else
		UpdateOrder(&o, PS_PAID, NULL, NULL);
	RETURN_STATUS(PS_PAID);
}

/*
 * A refund as store credit: the customer whose balance takes it.  22023
 * for a guest order (no balance) or a schema without store credit.
 */
static char *
CreditCustomer(const OmOrder *o)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;
	Datum		d;

	om_require_column("orders", "credit_applied", "a refund as store credit");
	om_exec_for_order(&plan,
					  "SELECT customer_id FROM order_mgmt.orders WHERE shop_id = $1 AND order_id = $2",
					  o->shop_id, o->order_id);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot refund order " INT64_FORMAT " as store credit: it is a guest order", o->order_id),
				 errdetail("Store credit is a customer's balance; order " INT64_FORMAT " of shop " INT64_FORMAT " has no customer_id.",
						   o->order_id, o->shop_id),
				 errhint("Refund by card, bank_transfer, cash or other.")));
	return TextDatumGetCString(d);
}

/*
 * refund(shop_id, order_id, amount, provider_ref, note, method)
 *	-> payment_status
 *
 * All paid money back: refunded.  Part of it: partially_refunded, except
 * on a cancelled order, whose money not yet returned rests in refunding.
 * method (card, bank_transfer, store_credit, cash, other) is recorded on
 * the refund's payment row and in its event; store_credit puts the amount
 * on the customer's balance (ledger kind refunded, seed 001), which a
 * guest order has none of (22023).
 */
PG_FUNCTION_INFO_V1(om_refund);
Datum
om_refund(PG_FUNCTION_ARGS)
{
	OmOrder		o;
	Numeric		amount;
	char	   *ref = OptRef(fcinfo, 3);
	char	   *status;
	char	   *kind;
	Numeric		refundable;
	Numeric		refunded;
	int			payment;
	char	   *method = NULL;
	char	   *credit_to;

	OM_SHOP_ARG(0);			/* before the other arguments are judged */
	OM_ARG_NOT_NULL(2, "amount");
	amount = PG_GETARG_NUMERIC(2);
	CheckAmount(amount, "refund");
	/* a 0.1.0 declaration passes five arguments */
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
		method = DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(5)));
	Begin(fcinfo, &o);
	if (FindByRef(&o, ref, &status, &kind))
	{
		if (strcmp(kind, "refund") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("provider_ref \"%s\" is a charge, not a refund", ref)));
		RETURN_STATUS(o.payment);	/* the same callback again */
	}

	refundable = om_num_sub(o.paid_amount, o.refunded_amount);
	if (om_num_cmp(amount, refundable) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OM_PAYMENT_MISMATCH),
				 errmsg("refund of %s for order " INT64_FORMAT " exceeds what can be refunded",
						om_num_text(amount), o.order_id),
				 errdetail("Paid %s, refunded %s: at most %s can be refunded.",
						   om_num_text(o.paid_amount), om_num_text(o.refunded_amount),
						   om_num_text(refundable))));

	credit_to = method && strcmp(method, "store_credit") == 0 ? CreditCustomer(&o) : NULL;

	refunded = om_num_add(o.refunded_amount, amount);
	RecordPayment(&o, "refund", "succeeded", amount, ref, NULL, NULL, method);
	if (credit_to)
		om_credit_move(o.shop_id, credit_to, o.order_id, "refunded", amount, OptText(fcinfo, 4));
	MoneyEventWith(&o, "refund", amount, ref, "note", OptText(fcinfo, 4), "method", method);
	payment = o.payment;
	if (o.payment == PS_PAID || o.payment == PS_REFUNDING || o.payment == PS_PARTIALLY_REFUNDED)
	{
		if (om_num_cmp(refunded, o.paid_amount) == 0)
			payment = PS_REFUNDED;
		else if (o.status == OS_CANCELLED)
			payment = PS_REFUNDING; /* the rest is still owed back (SPEC §1) */
		else
			payment = PS_PARTIALLY_REFUNDED;
	}
	UpdateOrder(&o, payment, NULL, refunded);
	RETURN_STATUS(payment);
}
