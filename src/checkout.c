/*-------------------------------------------------------------------------
 *
 * checkout.c
 *	  order_mgmt.checkout(): an order, its lines, its promo claim and its
 *	  stock holds in one call (SPEC §4.1, §5, §6); and add_lines(): more
 *	  lines for an order in its post-purchase hold (SPEC §9).
 *
 * om_checkout() reads as a list of steps, each a function below it.  The
 * arguments and the lines JSON are checked first (ReadCheckoutArgs); a
 * retry with an idempotency key then returns the first order (SPEC §20).
 * Everything else is validated before the first write: the shop, every
 * SKU, the customer and the order number (LoadCheckout), and the promo
 * code as the lines are priced (PriceCheckout).  Then, in this order,
 * which keeps hot rows locked for the shortest time:
 *
 *	1. one statement inserts the order, its lines and its deadlines
 *	   (InsertOrder; ON CONFLICT on the idempotency key returns the first
 *	   order instead) and, when the checkout spends store credit, takes it
 *	   from the customer's balance with a conditional UPDATE and writes its
 *	   ledger entry (store_credit.c; OM015 when the balance is short);
 *	   then, when the checkout gives a shipping or billing address, one
 *	   INSERT ... VALUES writes their first versions (address.c);
 *	2. the promo code is claimed (promo.c);
 *	3. stock is held line by line in SKU order (HoldLines, reservation.c);
 *	4. one checkout event records the lines and the holds
 *	   (StartCheckoutEvent, WriteCheckoutEvent), and the credit spent;
 *	5. an order whose store credit covers its total is paid (PaidByCredit).
 *
 * Lock order: the customer row FOR SHARE while its e-mail is read (so an
 * erasure of the customer waits for the checkout, erasure.c), the new
 * order row, the customer's store credit balance row (in step 1), the
 * promo code row, then stock rows by SKU.  A checkout without store credit
 * or addresses runs the statement it ran before they existed: no extra
 * statement (docs/performance.md).
 *
 * Any failure raises an error, which rolls back the whole call: nothing is
 * held, claimed or written.
 *
 * om_add_lines() takes the order first (order_lock.c), checks that lines
 * may be added (LoadAddableOrder), prices them (PriceAddedLines), inserts
 * them with the new totals in one statement (InsertAddedLines), then holds
 * their stock and writes one reserve event.
 *
 * The helpers both use come last: the lines JSON as lines sorted by SKU,
 * the shop and its SKUs in one read, the lines as array parameters, and
 * the stock holds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "address.h"
#include "clock.h"
#include "due_action.h"
#include "events.h"
#include "icu.h"
#include "lines.h"
#include "machines.h"
#include "money.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "order_lock.h"
#include "promo.h"
#include "rls.h"
#include "shop.h"
#include "spi_util.h"
#include "stock.h"
#include "store_credit.h"

/*
 * One line of checkout() or add_lines(): the SKU and quantity asked for,
 * what LoadShopAndSkus() found of the SKU and, in checkout(), what
 * PriceCheckout() made of it.
 */
typedef struct CoLine
{
	char	   *sku;
	int32		qty;
	bool		found;			/* the shop sells the SKU */
	char	   *product_id;		/* the SKU's product, or NULL */
	Numeric		price;			/* unit price */
	bool		tracked;		/* stock is held for it */
	int32		buckets;		/* stock buckets of the SKU */
	bool		queue;			/* admission queue */
	bool		auto_spread;	/* its buckets are automatic (hot_sku.c) */
	Numeric		amount;			/* price * qty */
	Numeric		discount;		/* its share of the order's discount */
} CoLine;

/*
 * One checkout as it goes through its steps: the arguments as
 * ReadCheckoutArgs() checked them, what LoadCheckout() adds, the prices
 * PriceCheckout() sets and the order InsertOrder() makes.
 */
typedef struct Checkout
{
	/* the arguments */
	int64		shop_id;
	CoLine	   *lines;			/* sorted by SKU */
	int			nlines;
	char	   *customer_id;	/* NULL: a guest */
	char	   *email;			/* NULL: the customer's, if any */
	char	   *promo_entered;	/* the code as typed, or NULL */
	Datum		payment_method;
	char	   *logistics;
	Numeric		shipping_fee;
	char	   *order_no;		/* NULL: numbered by its order_id */
	Interval   *timeout;		/* NULL: the shop's for the method, or none */
	Interval   *hold;			/* post-purchase hold, or NULL */
	char	   *idempotency_key;	/* or NULL */
	Numeric		credit;			/* store credit to spend; 0: none */
	Jsonb	   *shipping_address;	/* or NULL */
	Jsonb	   *billing_address;	/* or NULL */
	TimestampTz now;			/* om_now(): the order's created_at */

	/* LoadCheckout() */
	char	   *currency;
	char	   *email_key;		/* the e-mail normalized, or NULL */

	/* PriceCheckout(): the promo code, and money in the currency's minor units */
	bool		has_promo;
	OmPromo		promo;			/* the code claimed, if has_promo */
	Numeric		subtotal;
	Numeric		discount;
	Numeric		total;
	bool		paid_by_credit; /* credit = total: nothing to pay in money */

	/* InsertOrder() */
	int64		order_id;
} Checkout;

/* An order's totals as add_lines() reads them and makes them grow. */
typedef struct OrderTotals
{
	Numeric		subtotal;
	Numeric		discount;
	Numeric		shipping_fee;
	char	   *promo_key;		/* the promo code it claimed, or NULL */
	/* the discounts of the lines it had, spread anew over all (a code only) */
	OmPromoLine *old_lines;
	int			nold;
} OrderTotals;

/* checkout()'s steps, in the order they run */
static void ReadCheckoutArgs(FunctionCallInfo fcinfo, Checkout *co);
static Interval *PositiveIntervalArg(FunctionCallInfo fcinfo, int n, const char *name);
static int64 FindByIdempotencyKey(int64 shop_id, const char *key);
static void LoadCheckout(Checkout *co);
static char *LoadCustomerEmail(int64 shop_id, const char *customer_id);
static void CheckOrderNoFree(int64 shop_id, const char *order_no);
static void PriceCheckout(Checkout *co);
static Numeric ApplyPromoCode(Checkout *co, int digits);
static void CheckCredit(Checkout *co, int digits);
static int64 InsertOrder(const Checkout *co);
static int64 InsertOrderParts(const Checkout *co, Datum *values, const char *nulls);
static void PaidByCredit(const Checkout *co);
static TimestampTz PlusInterval(TimestampTz t, Interval *iv);
static void StartCheckoutEvent(const Checkout *co, JsonbParseState **detail);
static void WriteCheckoutEvent(const Checkout *co, JsonbParseState **detail);

/* add_lines()'s steps */
static void LoadAddableOrder(int64 shop_id, int64 order_id, const OmOrder *o,
							 OrderTotals *totals);
static void PriceAddedLines(int64 shop_id, int64 order_id, CoLine *lines, int n,
							OrderTotals *totals);
static void RespreadDiscount(int64 shop_id, int64 order_id, CoLine *lines, int n,
							 OrderTotals *totals, int digits);
static void AppendLineDiscounts(StringInfo detail, const OrderTotals *totals, const CoLine *lines,
								int n);
static void InsertAddedLines(int64 shop_id, int64 order_id, CoLine *lines, int n,
							 const OrderTotals *totals);

/* the lines, for both */
static CoLine *ParseLines(Jsonb *jb, int *nlines);
static int	CompareLine(const void *a, const void *b);
static char *LoadShopAndSkusParts(int64 shop_id, CoLine *lines, int n, const char *method,
								  Interval **timeout);
static char *NullableText(HeapTuple tup, TupleDesc td, int col);
static CoLine *FindLine(CoLine *lines, int n, Datum sku);
static void CheckSkusFound(int64 shop_id, const CoLine *lines, int n);
static char *LoadShopAndSkus(int64 shop_id, CoLine *lines, int n, const char *method,
							 Interval **timeout);
static Datum TextArray(CoLine *lines, int n);
static void LineArrays(CoLine *lines, int n, Datum *skus, Datum *qtys, Datum *prices,
					   Datum *discounts);
static void HoldLines(int64 shop_id, int64 order_id, CoLine *lines, int n,
					  StringInfo detail);
static void HoldLinesJsonb(int64 shop_id, int64 order_id, CoLine *lines, int n,
						   JsonbParseState **detail);
static OmHold *TrackedHolds(CoLine *lines, int n, int *nholds);

/*
 * checkout(shop_id, lines, customer_id, email, promo_code, payment_method,
 *			logistics, shipping_fee, order_no, payment_timeout, hold,
 *			idempotency_key, store_credit, shipping_address,
 *			billing_address) -> bigint order_id
 *
 * The steps the file header lists, in that order.
 */
PG_FUNCTION_INFO_V1(om_checkout);
Datum
om_checkout(PG_FUNCTION_ARGS)
{
	Checkout	co;
	JsonbParseState *detail = NULL;

	ReadCheckoutArgs(fcinfo, &co);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* a retry returns the first order, whatever has changed since (SPEC §20) */
	if (co.idempotency_key)
	{
		int64		first = FindByIdempotencyKey(co.shop_id, co.idempotency_key);

		if (first > 0)
		{
			SPI_finish();
			PG_RETURN_INT64(first);
		}
	}

	/* validate everything before the first write */
	LoadCheckout(&co);
	PriceCheckout(&co);

	/* 1. the order, its lines and its deadlines */
	co.order_id = InsertOrder(&co);
	if (co.order_id == 0)
	{
		/* a concurrent retry with the same idempotency key won: its order */
		co.order_id = FindByIdempotencyKey(co.shop_id, co.idempotency_key);
		if (co.order_id <= 0)
			elog(ERROR, "order with idempotency key \"%s\" vanished", co.idempotency_key);
		SPI_finish();
		PG_RETURN_INT64(co.order_id);
	}

	/* 1b. its addresses, new rows of the new order */
	if (co.shipping_address || co.billing_address)
		om_address_insert_first(co.shop_id, co.order_id, co.shipping_address,
								co.billing_address, co.now);

	/* 2. the promo code, before any stock row (lock order) */
	if (co.has_promo)
		om_promo_claim(co.shop_id, co.order_id, &co.promo, co.customer_id, co.email_key);

	/* 3. stock, in SKU order, as late as possible */
	StartCheckoutEvent(&co, &detail);
	HoldLinesJsonb(co.shop_id, co.order_id, co.lines, co.nlines, &detail);

	/* 4. one checkout event */
	WriteCheckoutEvent(&co, &detail);

	/* 5. store credit covering the total pays the order */
	if (co.paid_by_credit)
		PaidByCredit(&co);

	SPI_finish();
	PG_RETURN_INT64(co.order_id);
}

/*
 * Read and check checkout()'s arguments into co, in argument order, before
 * any SQL runs: malformed input raises 22023 (lines.c checks the lines
 * JSON).  Leaves everything LoadCheckout() and later steps set zeroed.
 */
static void
ReadCheckoutArgs(FunctionCallInfo fcinfo, Checkout *co)
{
	memset(co, 0, sizeof(Checkout));
	co->now = om_now();
	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "lines");
	OM_ARG_NOT_NULL(5, "payment_method");
	OM_ARG_NOT_NULL(6, "logistics");
	OM_ARG_NOT_NULL(7, "shipping_fee");
	co->shop_id = PG_GETARG_INT64(0);
	co->lines = ParseLines(PG_GETARG_JSONB_P(1), &co->nlines);
	if (!PG_ARGISNULL(2))
	{
		co->customer_id = text_to_cstring(PG_GETARG_TEXT_PP(2));
		om_check_identifier("customer_id", co->customer_id);
	}
	if (!PG_ARGISNULL(3))
		co->email = om_email_arg(PG_GETARG_TEXT_PP(3));
	if (!PG_ARGISNULL(4))
		co->promo_entered = text_to_cstring(PG_GETARG_TEXT_PP(4));
	co->payment_method = PG_GETARG_DATUM(5);
	co->logistics = DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(6)));
	co->shipping_fee = PG_GETARG_NUMERIC(7);
	if (!om_num_is_amount(co->shipping_fee))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shipping_fee must be a finite amount of at least 0"),
				 errdetail("Got %s.", om_num_text(co->shipping_fee))));
	om_check_amount_range("shipping_fee", co->shipping_fee);
	if (!PG_ARGISNULL(8))
	{
		co->order_no = text_to_cstring(PG_GETARG_TEXT_PP(8));
		om_check_identifier("order_no", co->order_no);
	}
	co->timeout = PositiveIntervalArg(fcinfo, 9, "payment_timeout");
	co->hold = PositiveIntervalArg(fcinfo, 10, "hold");
	if (!PG_ARGISNULL(11))
	{
		co->idempotency_key = text_to_cstring(PG_GETARG_TEXT_PP(11));
		/* a key of a unique index: not empty, at most OM_MAX_IDENT characters */
		om_check_identifier("idempotency_key", co->idempotency_key);
	}
	/* store_credit: a 0.1.0 install's checkout() has no such argument */
	co->credit = om_num_int(0);
	if (PG_NARGS() > 12)
	{
		OM_ARG_NOT_NULL(12, "store_credit");
		co->credit = PG_GETARG_NUMERIC(12);
		if (!om_num_is_amount(co->credit))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("store_credit must be a finite amount of at least 0"),
					 errdetail("Got %s.", om_num_text(co->credit))));
		om_check_amount_range("store_credit", co->credit);
	}
	/* the addresses (issue 18): only 0.2.0's checkout() has them */
	if (PG_NARGS() > 14)
	{
		if (!PG_ARGISNULL(13))
		{
			co->shipping_address = PG_GETARG_JSONB_P(13);
			om_address_check("shipping_address", co->shipping_address);
		}
		if (!PG_ARGISNULL(14))
		{
			co->billing_address = PG_GETARG_JSONB_P(14);
			om_address_check("billing_address", co->billing_address);
		}
	}
}

/*
 * Argument n as an interval, or NULL when it is NULL; 22023 when it is not
 * longer than zero (name is the argument's SQL name).
 */
static Interval *
PositiveIntervalArg(FunctionCallInfo fcinfo, int n, const char *name)
{
	Interval   *iv;

	if (PG_ARGISNULL(n))
		return NULL;
	iv = PG_GETARG_INTERVAL_P(n);
	if (!DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(iv),
										  IntervalPGetDatum(palloc0(sizeof(Interval))))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive interval", name)));
	return iv;
}

/* The order a checkout with this idempotency key made, or 0. */
static int64
FindByIdempotencyKey(int64 shop_id, const char *key)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID};
	Datum		values[2];
	bool		isnull;

	om_plan(&plan,
			"SELECT order_id FROM order_mgmt.orders WHERE shop_id = $1 AND idempotency_key = $2",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(key);
	/* not read-only: a new snapshot sees an order we waited for */
	om_exec(plan, values, NULL, false, 1);
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Check what the database knows, reading only: the shop and every SKU,
 * the customer, and that the order number is free.  Sets co->currency and co->email_key,
 * and where the caller left them out co->timeout (the shop's for the
 * payment method, NULL when the method has no deadline) and co->email (the
 * customer's).  A cod order pays by the method "cod" (SPEC §6).
 */
static void
LoadCheckout(Checkout *co)
{
	Interval   *shop_timeout;
	const char *method = strcmp(co->logistics, "cod") == 0 ? "cod" :
		TextDatumGetCString(co->payment_method);

	co->currency = LoadShopAndSkus(co->shop_id, co->lines, co->nlines, method, &shop_timeout);
	if (co->timeout == NULL)
		co->timeout = shop_timeout;
	if (co->customer_id)
	{
		char	   *customer_email = LoadCustomerEmail(co->shop_id, co->customer_id);

		if (co->email == NULL)
			co->email = customer_email;
	}
	if (co->email)
		co->email_key = om_normalize(co->email, true);
	if (co->order_no)
		CheckOrderNoFree(co->shop_id, co->order_no);
}

/* The customer's e-mail (may be NULL); 22023 if there is no such customer. */
static char *
LoadCustomerEmail(int64 shop_id, const char *customer_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	Datum		d;

	/* FOR SHARE: an erasure of the customer waits for this checkout (erasure.c) */
	om_plan(&plan, "SELECT email FROM order_mgmt.customer WHERE shop_id = $1 AND customer_id = $2"
			" FOR SHARE",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(customer_id);
	om_exec(plan, values, NULL, false, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("customer \"%s\" does not exist in shop " INT64_FORMAT, customer_id, shop_id),
				 errhint("Create it with order_mgmt.upsert_customer(), or check out as a guest.")));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

/* A caller-chosen order number must be new in the shop (23505). */
static void
CheckOrderNoFree(int64 shop_id, const char *order_no)
{
	static SPIPlanPtr plan = NULL;

	if (om_exists(&plan, "SELECT 1 FROM order_mgmt.orders WHERE shop_id = $1 AND order_no = $2",
				  shop_id, order_no))
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("order number \"%s\" is already taken in shop " INT64_FORMAT, order_no, shop_id),
				 errhint("Leave order_no out to number the order by its order_id.")));
}

/*
 * Price the checkout in its currency's minor units: each line's amount
 * and discount, the subtotal, the promo code's discount (the code is
 * checked here), the shipping fee and the total.
 */
static void
PriceCheckout(Checkout *co)
{
	Numeric		zero = om_num_int(0);
	int			digits;
	int			i;

	digits = om_currency_digits(co->currency);
	co->shipping_fee = om_num_round(co->shipping_fee, digits);
	co->subtotal = zero;
	co->discount = zero;
	for (i = 0; i < co->nlines; i++)
	{
		co->lines[i].amount = om_num_mul(co->lines[i].price, om_num_int(co->lines[i].qty));
		co->lines[i].discount = zero;
		co->subtotal = om_num_add(co->subtotal, co->lines[i].amount);
	}
	if (co->promo_entered)
		co->discount = ApplyPromoCode(co, digits);
	co->subtotal = om_num_round(co->subtotal, digits);
	co->total = om_num_round(om_num_add(om_num_sub(co->subtotal, co->discount), co->shipping_fee), digits);
	om_check_amount_range("the order's total", co->total);
	om_check_amount_range("the order's subtotal", co->subtotal);
	if (om_num_cmp(co->credit, zero) > 0)
		CheckCredit(co, digits);
}

/*
 * The store credit to spend (above 0): in the currency's minor units, at
 * most the total, for a customer (22023 otherwise), on a 0.2.0 schema.
 * Credit that covers the total leaves nothing to pay: no payment deadline.
 * Whether the balance covers it is known only when it is taken (OM015).
 */
static void
CheckCredit(Checkout *co, int digits)
{
	om_require_column("orders", "credit_applied", "store credit");
	if (om_num_cmp(om_num_round(co->credit, digits), co->credit) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("store_credit has more decimals than %s has", co->currency),
				 errdetail("Got %s; %s has %d minor unit digits.", om_num_text(co->credit),
						   co->currency, digits)));
	co->credit = om_num_round(co->credit, digits);	/* the currency's scale */
	if (om_num_cmp(co->credit, co->total) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("store_credit %s is more than the order's total %s",
						om_num_text(co->credit), om_num_text(co->total)),
				 errhint("Spend at most the total; the rest stays on the balance.")));
	if (co->customer_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("store_credit needs a customer"),
				 errdetail("Store credit is a customer's balance; a guest order has none."),
				 errhint("Pass customer_id.")));
	if (om_num_cmp(co->credit, co->total) == 0)
	{
		co->paid_by_credit = true;
		co->timeout = NULL;
	}
}

/*
 * Look up the promo code entered and check it may be used on this
 * subtotal (promo.c; OM002 when there is no such code).  Sets co->promo
 * and co->has_promo, each line's share of the discount, and returns the
 * order's discount rounded to digits (om_promo_discount()).
 */
static Numeric
ApplyPromoCode(Checkout *co, int digits)
{
	char	   *key = om_normalize(co->promo_entered, true);
	OmPromoLine *pl = palloc(sizeof(OmPromoLine) * co->nlines);
	Numeric		discount;
	int			i;

	if (key[0] == '\0' || !om_promo_lookup(co->shop_id, key, &co->promo))
		ereport(ERROR,
				(errcode(ERRCODE_OM_PROMO_CODE_INVALID),
				 errmsg("promo code \"%s\" does not exist", co->promo_entered),
				 errdetail("Shop " INT64_FORMAT " has no code matching \"%s\".", co->shop_id, key)));
	om_promo_validate(&co->promo, co->promo_entered, co->customer_id, co->email_key,
					  co->subtotal);
	co->has_promo = true;
	for (i = 0; i < co->nlines; i++)
	{
		pl[i].line_no = i + 1;
		pl[i].sku = co->lines[i].sku;
		pl[i].product_id = co->lines[i].product_id;
		pl[i].amount = co->lines[i].amount;
	}
	discount = om_promo_discount(&co->promo, pl, co->nlines, co->shipping_fee, digits);
	for (i = 0; i < co->nlines; i++)
		co->lines[i].discount = pl[i].discount;
	pfree(pl);
	return discount;
}

/*
 * The order's row, in InsertOrder() ($1 .. $17, and the credit_applied
 * column with its parameter when store credit is spent)
 */
#define INSERT_ORDER_SQL(COLS, VALS, CONFLICT) \
	"INSERT INTO order_mgmt.orders (shop_id, order_no, customer_id, email," \
	"    logistics, payment_method, currency, subtotal, discount, shipping_fee, total," \
	"    promo_code, promo_key, payment_due_at, hold_until, created_at, idempotency_key" COLS ")" \
	"  VALUES ($1, $2, $3, $4, $5::order_mgmt.logistics_kind, $6, $7, $8, $9, $10, $11," \
	"    $12, $13, $14, $15, $16, $17" VALS ")" \
	CONFLICT \
	"  RETURNING order_id"
/*
 * Only a checkout with an idempotency key can conflict: without one the
 * insert is a plain one (an ON CONFLICT insert is speculative, which costs
 * a probe of the arbiter index, a speculative token and a second WAL
 * record, 48 bytes, on every checkout).
 */
#define ON_KEY_CONFLICT \
	"  ON CONFLICT (shop_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"

/*
 * Insert the order, its lines and its deadlines (the end of the hold if
 * there is one; on a 0.1.0 schema also the payment timeout, which 0.2.0
 * keeps in payment_due_at only, due_action.h) in one statement.  Returns the new
 * order_id, or 0 when a concurrent checkout with the same idempotency key
 * inserted first.
 *
 * On Citus the inserts are separate statements (InsertOrderParts()):
 * Citus runs a data-modifying CTE that feeds another one by sending its
 * result to every node and committing on all of them in two phases, which
 * made a checkout on the shop's worker wait for the others.
 */
static int64
InsertOrder(const Checkout *co)
{
	/* [with store credit][payment timeouts on orders][idempotency key] */
	static SPIPlanPtr plans[2][2][2];
	static const Oid argtypes[] = {
		INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID,
		NUMERICOID, NUMERICOID, NUMERICOID, TEXTOID, TEXTOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TEXTARRAYOID, INT4ARRAYOID,
		NUMERICARRAYOID, NUMERICARRAYOID, NUMERICOID, TEXTOID
	};
	Datum		values[23];
	char		nulls[23];
	bool		isnull;
	bool		credit = om_num_cmp(co->credit, om_num_int(0)) > 0;
	bool		on_orders = om_timeouts_on_orders();
	bool		keyed = co->idempotency_key != NULL;
	int64		order_id;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(co->shop_id);
	om_text_param(values, nulls, 1, co->order_no);
	om_text_param(values, nulls, 2, co->customer_id);
	om_text_param(values, nulls, 3, co->email);
	values[4] = CStringGetTextDatum(co->logistics);
	values[5] = co->payment_method;
	values[6] = CStringGetTextDatum(co->currency);
	values[7] = NumericGetDatum(co->subtotal);
	values[8] = NumericGetDatum(co->discount);
	values[9] = NumericGetDatum(co->shipping_fee);
	values[10] = NumericGetDatum(co->total);
	om_text_param(values, nulls, 11, co->promo_entered);
	om_text_param(values, nulls, 12, co->has_promo ? co->promo.code_key : NULL);
	if (co->timeout == NULL)
		nulls[13] = 'n';
	else
		values[13] = TimestampTzGetDatum(PlusInterval(co->now, co->timeout));
	if (co->hold == NULL)
		nulls[14] = 'n';
	else
		values[14] = TimestampTzGetDatum(PlusInterval(co->now, co->hold));
	values[15] = TimestampTzGetDatum(co->now);
	om_text_param(values, nulls, 16, co->idempotency_key);
	LineArrays(co->lines, co->nlines, &values[17], &values[18], &values[19], &values[20]);

	if (credit)
	{
		values[21] = NumericGetDatum(co->credit);
		values[22] = CStringGetTextDatum(om_actor());
	}

	if (om_on_citus())
		return InsertOrderParts(co, values, nulls);


	/*
	 * The order, then (with store credit) the customer's balance and its
	 * ledger entry, then the lines and the deadlines.  The balance is taken
	 * only if the order was inserted, and only as far as it goes (balance
	 * >= credit, re-checked on the newest row after a wait): the second
	 * column says whether it was.
	 */
#define INSERT_ORDER(COLS, VALS, CONFLICT) "WITH o AS (" INSERT_ORDER_SQL(COLS, VALS, CONFLICT) "),"
#define LINES_AND_DEADLINES(DUE) \
	" l AS (INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price, discount," \
	"    ordered_at)" \
	"  SELECT $1, o.order_id, u.n, u.sku, u.qty, u.price, u.disc, $16 FROM o," \
	"  ROWS FROM (pg_catalog.unnest($18), pg_catalog.unnest($19), pg_catalog.unnest($20)," \
	"    pg_catalog.unnest($21)) WITH ORDINALITY AS u(sku, qty, price, disc, n))," \
	" d AS (INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, created_at)" \
	"  SELECT $1, o.order_id, a.action, a.due_at, $16 FROM o," \
	"  (VALUES " DUE ") AS a(action, due_at)" \
	"  WHERE a.due_at IS NOT NULL)"
#define DUE_HOLD "('hold_end'::order_mgmt.due_kind, $15)"
#define DUE_BOTH "('payment_timeout'::order_mgmt.due_kind, $14), ('hold_end', $15)"
#define CREDIT_PLAN(DUE, CONFLICT) \
	INSERT_ORDER(", credit_applied", ", $22", CONFLICT) \
	" b AS (UPDATE order_mgmt.store_credit_balance SET balance = balance - $22, updated_at = $16" \
	"  WHERE shop_id = $1 AND customer_id = $3 AND balance >= $22 AND EXISTS (SELECT FROM o)" \
	"  RETURNING balance)," \
	" c AS (INSERT INTO order_mgmt.store_credit_ledger (shop_id, customer_id, order_id, kind," \
	"    amount, balance, actor, created_at)" \
	"  SELECT $1, $3, o.order_id, 'spent', -$22, b.balance, $23, $16 FROM o, b)," \
	LINES_AND_DEADLINES(DUE) \
	" SELECT order_id, EXISTS (SELECT FROM b) FROM o"
#define PLAIN_PLAN(DUE, CONFLICT) INSERT_ORDER("", "", CONFLICT) LINES_AND_DEADLINES(DUE) " SELECT order_id FROM o"

	if (credit && keyed)
		om_plan(&plans[1][on_orders][1], on_orders ? CREDIT_PLAN(DUE_HOLD, ON_KEY_CONFLICT) :
				CREDIT_PLAN(DUE_BOTH, ON_KEY_CONFLICT), 23, argtypes);
	else if (credit)
		om_plan(&plans[1][on_orders][0], on_orders ? CREDIT_PLAN(DUE_HOLD, "") :
				CREDIT_PLAN(DUE_BOTH, ""), 23, argtypes);
	else if (keyed)
		om_plan(&plans[0][on_orders][1], on_orders ? PLAIN_PLAN(DUE_HOLD, ON_KEY_CONFLICT) :
				PLAIN_PLAN(DUE_BOTH, ON_KEY_CONFLICT), 21, argtypes);
	else
		om_plan(&plans[0][on_orders][0], on_orders ? PLAIN_PLAN(DUE_HOLD, "") :
				PLAIN_PLAN(DUE_BOTH, ""), 21, argtypes);
	om_exec_quiet(plans[credit][on_orders][keyed], values, nulls, false, 0);
#undef INSERT_ORDER
#undef LINES_AND_DEADLINES
#undef DUE_HOLD
#undef DUE_BOTH
#undef CREDIT_PLAN
#undef PLAIN_PLAN
	if (SPI_processed == 0)
		return 0;
	order_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (credit && !DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		om_credit_insufficient(co->shop_id, co->customer_id, co->credit);
	return order_id;
}

/*
 * Step 5: store credit covered the whole total, so there is no money to
 * wait for: the order is paid (the triggers stamp paid_at, write the
 * payment_status event and do what paid does, e.g. fulfil digital goods).
 */
static void
PaidByCredit(const Checkout *co)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	Datum		values[2];

	om_plan(&plan,
			"UPDATE order_mgmt.orders SET payment_status = 'paid'"
			" WHERE shop_id = $1 AND order_id = $2",
			2, argtypes);
	values[0] = Int64GetDatum(co->shop_id);
	values[1] = Int64GetDatum(co->order_id);
	om_exec_quiet(plan, values, NULL, false, 0);
}

/*
 * InsertOrder() on Citus, with its values: the order, the store credit it
 * spends (the balance, then its ledger entry), each line and each
 * deadline, each an INSERT ... VALUES or a single-row UPDATE, which Citus
 * routes to the shop's shard with the plan kept (an INSERT ... SELECT is
 * planned on every call and copied in).  Lines are few; a statement a line
 * costs less there.
 */
static int64
InsertOrderParts(const Checkout *co, Datum *values, const char *nulls)
{
	static SPIPlanPtr order_plan = NULL;
	static SPIPlanPtr credit_order_plan = NULL;
	static SPIPlanPtr balance_plan = NULL;
	static SPIPlanPtr ledger_plan = NULL;
	static SPIPlanPtr line_plan = NULL;
	static SPIPlanPtr due_plan = NULL;
	static const Oid order_types[] = {
		INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID,
		NUMERICOID, NUMERICOID, NUMERICOID, TEXTOID, TEXTOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, NUMERICOID
	};
	static const Oid balance_types[] = {INT8OID, TEXTOID, NUMERICOID, TIMESTAMPTZOID};
	static const Oid ledger_types[] = {
		INT8OID, TEXTOID, INT8OID, NUMERICOID, NUMERICOID, TEXTOID, TIMESTAMPTZOID
	};
	static const Oid line_types[] = {
		INT8OID, INT8OID, INT4OID, TEXTOID, INT4OID, NUMERICOID, NUMERICOID, TIMESTAMPTZOID
	};
	static const Oid due_types[] = {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	static const char *const due_kinds[] = {"payment_timeout", "hold_end"};
	bool		credit = om_num_cmp(co->credit, om_num_int(0)) > 0;
	Datum		ov[18];
	char		onulls[18];
	Datum		v[8];
	int64		order_id;
	bool		isnull;
	int			i;

	memcpy(ov, values, 17 * sizeof(Datum));
	memcpy(onulls, nulls, 17);
	if (credit)
	{
		ov[17] = NumericGetDatum(co->credit);
		onulls[17] = ' ';
		om_plan(&credit_order_plan, INSERT_ORDER_SQL(", credit_applied", ", $18", ON_KEY_CONFLICT), 18, order_types);
		om_exec_quiet(credit_order_plan, ov, onulls, false, 0);
	}
	else
	{
		om_plan(&order_plan, INSERT_ORDER_SQL("", "", ON_KEY_CONFLICT), 17, order_types);
		om_exec_quiet(order_plan, ov, onulls, false, 0);
	}
	if (SPI_processed == 0)
		return 0;
	order_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	if (credit)
	{
		/* the balance only as far as it goes, re-checked on the newest row */
		om_plan(&balance_plan,
				"UPDATE order_mgmt.store_credit_balance SET balance = balance - $3, updated_at = $4"
				" WHERE shop_id = $1 AND customer_id = $2 AND balance >= $3"
				" RETURNING balance",
				4, balance_types);
		v[0] = values[0];
		v[1] = values[2];
		v[2] = ov[17];
		v[3] = values[15];
		om_exec_quiet(balance_plan, v, NULL, false, 0);
		if (SPI_processed == 0)
			om_credit_insufficient(co->shop_id, co->customer_id, co->credit);
		om_plan(&ledger_plan,
				"INSERT INTO order_mgmt.store_credit_ledger (shop_id, customer_id, order_id, kind,"
				"    amount, balance, actor, created_at)"
				" VALUES ($1, $2, $3, 'spent', -$4, $5, $6, $7)",
				7, ledger_types);
		v[4] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		v[2] = Int64GetDatum(order_id);
		v[3] = ov[17];
		v[5] = values[22];
		v[6] = values[15];
		om_exec_quiet(ledger_plan, v, NULL, false, 0);
	}

	om_plan(&line_plan,
			"INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price, discount,"
			"    ordered_at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			8, line_types);
	v[0] = values[0];
	v[1] = Int64GetDatum(order_id);
	v[7] = values[15];
	for (i = 0; i < co->nlines; i++)
	{
		v[2] = Int32GetDatum(i + 1);
		v[3] = CStringGetTextDatum(co->lines[i].sku);
		v[4] = Int32GetDatum(co->lines[i].qty);
		v[5] = NumericGetDatum(co->lines[i].price);
		v[6] = NumericGetDatum(co->lines[i].discount);
		om_exec_quiet(line_plan, v, NULL, false, 0);
	}

	om_plan(&due_plan,
			"INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, created_at)"
			" VALUES ($1, $2, $3::order_mgmt.due_kind, $4, $5)",
			5, due_types);
	v[4] = values[15];
	/* the payment timeout is payment_due_at alone from 0.2.0 (due_action.h) */
	for (i = om_timeouts_on_orders() ? 1 : 0; i < 2; i++)
	{
		if (nulls[13 + i] == 'n')
			continue;
		v[2] = CStringGetTextDatum(due_kinds[i]);
		v[3] = values[13 + i];
		om_exec_quiet(due_plan, v, NULL, false, 0);
	}
	return order_id;
}

/* t + iv; an error if that leaves the timestamp range. */
static TimestampTz
PlusInterval(TimestampTz t, Interval *iv)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(t), IntervalPGetDatum(iv)));
}

/*
 * Start the checkout event's detail on *detail: the lines with their unit
 * prices (and discounts, when not 0), then the opening of the holds, which
 * HoldLinesJsonb() pushes.  Every checkout writes one, so a key whose value
 * is 0 or null is left out (issue 21: a smaller event, less WAL).  Built as
 * jsonb, not as JSON text for jsonb_in to parse (issue 21: 4% of a
 * checkout's instructions went to that parse); the same jsonb, byte for
 * byte, as that text made.
 */
static void
StartCheckoutEvent(const Checkout *co, JsonbParseState **detail)
{
	int			i;

	pushJsonbValue(detail, WJB_BEGIN_OBJECT, NULL);
	om_jsonb_push_key(detail, "lines");
	pushJsonbValue(detail, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < co->nlines; i++)
	{
		pushJsonbValue(detail, WJB_BEGIN_OBJECT, NULL);
		om_jsonb_push_string(detail, "sku", co->lines[i].sku);
		om_jsonb_push_int(detail, "qty", co->lines[i].qty);
		om_jsonb_push_numeric(detail, "unit_price", co->lines[i].price);
		if (om_num_cmp(co->lines[i].discount, om_num_int(0)) != 0)
			om_jsonb_push_numeric(detail, "discount", co->lines[i].discount);
		pushJsonbValue(detail, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(detail, WJB_END_ARRAY, NULL);
	om_jsonb_push_key(detail, "holds");
	pushJsonbValue(detail, WJB_BEGIN_ARRAY, NULL);
}

/*
 * Finish the detail StartCheckoutEvent() began with the subtotal and the
 * total, the discount (with a code, or when not 0), the shipping fee (when
 * not 0), the promo code's key, the store credit spent and the addresses,
 * and write the checkout event (events.c).
 */
static void
WriteCheckoutEvent(const Checkout *co, JsonbParseState **detail)
{
	JsonbValue *res;

	pushJsonbValue(detail, WJB_END_ARRAY, NULL);
	om_jsonb_push_numeric(detail, "subtotal", co->subtotal);
	om_jsonb_push_numeric(detail, "total", co->total);
	if (co->has_promo || om_num_cmp(co->discount, om_num_int(0)) != 0)
		om_jsonb_push_numeric(detail, "discount", co->discount);
	if (om_num_cmp(co->shipping_fee, om_num_int(0)) != 0)
		om_jsonb_push_numeric(detail, "shipping_fee", co->shipping_fee);
	if (co->has_promo)
		om_jsonb_push_string(detail, "promo", co->promo.code_key);
	if (om_num_cmp(co->credit, om_num_int(0)) > 0)
		om_jsonb_push_numeric(detail, "store_credit", co->credit);
	/* which addresses it has, never what they say (erasure.c) */
	if (co->shipping_address || co->billing_address)
	{
		om_jsonb_push_key(detail, "addresses");
		pushJsonbValue(detail, WJB_BEGIN_ARRAY, NULL);
		if (co->shipping_address)
			om_jsonb_push_string(detail, NULL, "shipping");
		if (co->billing_address)
			om_jsonb_push_string(detail, NULL, "billing");
		pushJsonbValue(detail, WJB_END_ARRAY, NULL);
	}
	res = pushJsonbValue(detail, WJB_END_OBJECT, NULL);
	om_event_write_jsonb(co->shop_id, co->order_id, "checkout", NULL, NULL,
						 JsonbValueToJsonb(res));
}

/*
 * add_lines(shop_id, order_id, lines) -> void
 *
 * During a post-purchase hold (SPEC §9, seed 004) the customer may add
 * lines to a pending, unpaid order: their stock is held at once (or
 * OM001), and the totals grow; the order's promo code prices all its
 * lines again (its scope and kind as at checkout), spreading its discount
 * over them.  Outside a hold, or on an order that is no longer
 * pending and unpaid: OM013.
 */
PG_FUNCTION_INFO_V1(om_add_lines);
Datum
om_add_lines(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	int64		order_id;
	CoLine	   *lines;
	int			nlines;
	OmOrder		o;
	OrderTotals totals;
	StringInfoData detail;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	OM_ARG_NOT_NULL(2, "lines");
	shop_id = PG_GETARG_INT64(0);
	order_id = PG_GETARG_INT64(1);
	lines = ParseLines(PG_GETARG_JSONB_P(2), &nlines);

	om_enter_order(shop_id, order_id, &o);
	LoadAddableOrder(shop_id, order_id, &o, &totals);
	PriceAddedLines(shop_id, order_id, lines, nlines, &totals);

	/* the new lines and the new totals, then the stock */
	InsertAddedLines(shop_id, order_id, lines, nlines, &totals);
	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"added\": true, \"holds\": [");
	HoldLines(shop_id, order_id, lines, nlines, &detail);
	appendStringInfo(&detail, "], \"subtotal\": %s, \"discount\": %s",
					 om_num_text(totals.subtotal), om_num_text(totals.discount));
	if (totals.old_lines)
		AppendLineDiscounts(&detail, &totals, lines, nlines);
	appendStringInfoChar(&detail, '}');
	om_event_write(shop_id, order_id, "reserve", NULL, NULL, detail.data);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * Read the totals of the order the caller has locked into o, and check
 * that lines may be added to it: during a post-purchase hold, while it is
 * pending and unpaid (OM013 otherwise).
 */
static void
LoadAddableOrder(int64 shop_id, int64 order_id, const OmOrder *o, OrderTotals *totals)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	Datum		values[2];
	HeapTuple	tup;
	TupleDesc	td;
	bool		isnull;
	bool		on_hold;

	om_plan(&plan,
			"SELECT coalesce(hold_until > order_mgmt.now(), false), subtotal, discount, promo_key,"
			" shipping_fee"
			" FROM order_mgmt.orders WHERE shop_id = $1 AND order_id = $2",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	om_exec(plan, values, NULL, false, 1);
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	on_hold = DatumGetBool(SPI_getbinval(tup, td, 1, &isnull));
	totals->subtotal = DatumGetNumericCopy(SPI_getbinval(tup, td, 2, &isnull));
	totals->discount = DatumGetNumericCopy(SPI_getbinval(tup, td, 3, &isnull));
	totals->shipping_fee = DatumGetNumericCopy(SPI_getbinval(tup, td, 5, &isnull));
	totals->promo_key = NULL;
	totals->old_lines = NULL;
	totals->nold = 0;
	if (!heap_attisnull(tup, 4, td))
		totals->promo_key = TextDatumGetCString(SPI_getbinval(tup, td, 4, &isnull));
	if (!on_hold || o->status != OS_PENDING || o->payment != PS_UNPAID)
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
				 errmsg("cannot add lines to order " INT64_FORMAT, order_id),
				 errdetail("%s", !on_hold ? "Lines can be added only during a post-purchase hold." :
						   psprintf("The order is %s with payment %s; lines can be added only to a pending, unpaid order.",
									om_state_name(OM_MACHINE_ORDER, o->status),
									om_state_name(OM_MACHINE_PAYMENT, o->payment)))));
}

/*
 * Price the new lines (the shop and every SKU must exist) and grow the
 * totals: the subtotal by their amounts, rounded to the currency's minor
 * units, and the discount of the order's promo code as it prices all the
 * lines, old and new (RespreadDiscount).
 */
static void
PriceAddedLines(int64 shop_id, int64 order_id, CoLine *lines, int n, OrderTotals *totals)
{
	Interval   *unused;
	char	   *currency;
	int			digits;
	Numeric		added = om_num_int(0);
	int			i;

	currency = LoadShopAndSkus(shop_id, lines, n, NULL, &unused);
	digits = om_currency_digits(currency);
	for (i = 0; i < n; i++)
	{
		lines[i].amount = om_num_mul(lines[i].price, om_num_int(lines[i].qty));
		lines[i].discount = om_num_int(0);
		added = om_num_add(added, lines[i].amount);
	}
	totals->subtotal = om_num_round(om_num_add(totals->subtotal, added), digits);
	om_check_amount_range("the order's subtotal", totals->subtotal);
	if (totals->promo_key)
		RespreadDiscount(shop_id, order_id, lines, n, totals, digits);
}

/*
 * The order's promo code prices the order's lines and the new ones
 * together (om_promo_discount(): its scope, kind and rounding, as at
 * checkout), which sets the order's discount and every line's share: the
 * new lines' in lines, the old ones' in totals->old_lines.  The lines only
 * grow, so a code that applied still does.  A code whose row is gone
 * keeps the discount it gave, on the lines that had it.
 */
static void
RespreadDiscount(int64 shop_id, int64 order_id, CoLine *lines, int n, OrderTotals *totals,
				 int digits)
{
	OmPromo		promo;
	OmPromoLine *all;
	int			nold;
	int			i;

	if (!om_promo_lookup(shop_id, totals->promo_key, &promo))
		return;
	all = om_promo_order_lines(shop_id, order_id, n, &nold);
	for (i = 0; i < n; i++)
	{
		all[nold + i].sku = lines[i].sku;
		all[nold + i].product_id = lines[i].product_id;
		all[nold + i].amount = lines[i].amount;
	}
	totals->discount = om_promo_discount(&promo, all, nold + n, totals->shipping_fee, digits);
	for (i = 0; i < n; i++)
		lines[i].discount = all[nold + i].discount;
	totals->old_lines = all;
	totals->nold = nold;
}

/*
 * Append to an add_lines event's detail every line's share of the discount
 * the order's promo code gave anew (RespreadDiscount): "line_discounts",
 * by line_no, the new lines numbered after the old ones as
 * InsertAddedLines() numbers them.
 */
static void
AppendLineDiscounts(StringInfo detail, const OrderTotals *totals, const CoLine *lines, int n)
{
	int32		last = totals->nold > 0 ? totals->old_lines[totals->nold - 1].line_no : 0;
	int			i;

	appendStringInfoString(detail, ", \"line_discounts\": [");
	for (i = 0; i < totals->nold + n; i++)
		appendStringInfo(detail, "%s{\"line_no\": %d, \"discount\": %s}", i > 0 ? ", " : "",
						 i < totals->nold ? totals->old_lines[i].line_no : last + i - totals->nold + 1,
						 om_num_text(i < totals->nold ? totals->old_lines[i].discount :
									 lines[i - totals->nold].discount));
	appendStringInfoChar(detail, ']');
}

/*
 * In one statement, insert the new lines after the order's last line
 * (ordered at the order's created_at) with their discounts, set the old
 * lines' new discounts (when the order has a promo code), and write the
 * new totals to the order.
 */
static void
InsertAddedLines(int64 shop_id, int64 order_id, CoLine *lines, int n,
				 const OrderTotals *totals)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTARRAYOID, INT4ARRAYOID, NUMERICARRAYOID,
	NUMERICOID, NUMERICOID, NUMERICARRAYOID, INT4ARRAYOID, NUMERICARRAYOID};
	Datum		values[10];
	Datum	   *old_no = palloc(sizeof(Datum) * (totals->nold + 1));
	Datum	   *old_discount = palloc(sizeof(Datum) * (totals->nold + 1));
	int			i;

	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	LineArrays(lines, n, &values[2], &values[3], &values[4], &values[7]);
	values[5] = NumericGetDatum(totals->subtotal);
	values[6] = NumericGetDatum(totals->discount);
	for (i = 0; i < totals->nold; i++)
	{
		old_no[i] = Int32GetDatum(totals->old_lines[i].line_no);
		old_discount[i] = NumericGetDatum(totals->old_lines[i].discount);
	}
	values[8] = PointerGetDatum(construct_array(old_no, totals->nold, INT4OID, 4, true, TYPALIGN_INT));
	values[9] = PointerGetDatum(construct_array(old_discount, totals->nold, NUMERICOID, -1, false,
												TYPALIGN_INT));

	om_plan(&plan,
			"WITH l AS (INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price,"
			"    discount, ordered_at)"
			"  SELECT $1, $2, m.last + u.n, u.sku, u.qty, u.price, u.discount, m.ordered_at"
			"  FROM (SELECT max(line_no) AS last, (SELECT o.created_at FROM order_mgmt.orders o"
			"      WHERE o.shop_id = $1 AND o.order_id = $2) AS ordered_at"
			"    FROM order_mgmt.order_line WHERE shop_id = $1 AND order_id = $2) m,"
			"  ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5),"
			"    pg_catalog.unnest($8)) WITH ORDINALITY AS u(sku, qty, price, discount, n)),"
			" d AS (UPDATE order_mgmt.order_line SET discount = $10[pg_catalog.array_position($9, line_no)]"
			"  WHERE shop_id = $1 AND order_id = $2 AND line_no = ANY ($9))"
			" UPDATE order_mgmt.orders SET subtotal = $6, discount = $7,"
			"  total = $6 - $7 + shipping_fee"
			" WHERE shop_id = $1 AND order_id = $2",
			10, argtypes);
	om_exec_quiet(plan, values, NULL, false, 0);
}

/*
 * The lines JSON, checked and parsed by lines.c (22023 when malformed),
 * as CoLines still sorted by SKU; the rest of each line is zeroed.
 */
static CoLine *
ParseLines(Jsonb *jb, int *nlines)
{
	OmLineQty  *parsed = om_parse_lines(jb, nlines);
	CoLine	   *lines = palloc0(sizeof(CoLine) * (*nlines + 1));
	int			i;

	for (i = 0; i < *nlines; i++)
	{
		lines[i].sku = parsed[i].sku;
		lines[i].qty = parsed[i].qty;
	}
	return lines;
}

/* The lines' order for bsearch(): by SKU, as ParseLines() sorts them. */
static int
CompareLine(const void *a, const void *b)
{
	return strcmp(((const CoLine *) a)->sku, ((const CoLine *) b)->sku);
}

/*
 * Read the shop and the lines' SKUs in one statement and fill in what the
 * lines need of them (price, stock buckets, admission queue, tracked, and
 * the product a promo code's scope may name).
 * An error when there is no such shop, and 22023 for a SKU the shop does
 * not have.  Returns the shop's currency and sets *timeout to its payment
 * timeout for the payment method (shop.payment_timeouts overrides
 * payment_timeout per method; NULL there, or here, is no deadline).  A
 * schema older than 0.2.0 has one timeout for every method.
 */
static char *
LoadShopAndSkus(int64 shop_id, CoLine *lines, int n, const char *method, Interval **timeout)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_010 = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTARRAYOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		per_method;
	uint64		i;
	char	   *currency = NULL;

	if (om_on_citus())
		return LoadShopAndSkusParts(shop_id, lines, n, method, timeout);
	/* a 0.2.0 schema: timeouts per payment method, automatic buckets */
	per_method = om_has_column("sku", "auto_buckets");
	om_plan(per_method ? &plan : &plan_010,
			per_method ?
			"SELECT s.currency, CASE WHEN s.payment_timeouts ? $3"
			" THEN (s.payment_timeouts ->> $3)::interval ELSE s.payment_timeout END, k.sku, k.price,"
			" " OM_SKU_BUCKETS_SQL ", coalesce(k.admission_queue, s.admission_queue),"
			" NOT k.digital OR EXISTS (SELECT FROM order_mgmt.stock t WHERE t.shop_id = $1 AND t.sku = k.sku),"
			" k.product_id, " OM_SKU_AUTO_SQL
			" FROM order_mgmt.shop s LEFT JOIN order_mgmt.sku k ON k.shop_id = s.shop_id AND k.sku = ANY ($2)"
			" WHERE s.shop_id = $1" :
			"SELECT s.currency, s.payment_timeout, k.sku, k.price,"
			" coalesce(k.stock_buckets, s.stock_buckets), coalesce(k.admission_queue, s.admission_queue),"
			" NOT k.digital OR EXISTS (SELECT FROM order_mgmt.stock t WHERE t.shop_id = $1 AND t.sku = k.sku),"
			" k.product_id, false"
			" FROM order_mgmt.shop s LEFT JOIN order_mgmt.sku k ON k.shop_id = s.shop_id AND k.sku = ANY ($2)"
			" WHERE s.shop_id = $1",
			3, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = TextArray(lines, n);
	om_text_param(values, nulls, 2, method);
	om_exec(per_method ? plan : plan_010, values, nulls, true, 0);
	if (SPI_processed == 0)
		om_shop_not_found(shop_id);

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		sku;
		CoLine	   *line;

		if (i == 0)
		{
			Datum		t = SPI_getbinval(tup, td, 2, &isnull);

			*timeout = isnull ? NULL : DatumGetIntervalP(datumCopy(t, false, sizeof(Interval)));
			currency = TextDatumGetCString(SPI_getbinval(tup, td, 1, &isnull));
		}
		sku = SPI_getbinval(tup, td, 3, &isnull);
		if (isnull)
			continue;
		line = FindLine(lines, n, sku);
		if (line == NULL)
			continue;
		line->found = true;
		line->price = DatumGetNumericCopy(SPI_getbinval(tup, td, 4, &isnull));
		line->buckets = DatumGetInt32(SPI_getbinval(tup, td, 5, &isnull));
		line->queue = DatumGetBool(SPI_getbinval(tup, td, 6, &isnull));
		line->tracked = DatumGetBool(SPI_getbinval(tup, td, 7, &isnull));
		line->product_id = NullableText(tup, td, 8);
		line->auto_spread = DatumGetBool(SPI_getbinval(tup, td, 9, &isnull));
	}
	CheckSkusFound(shop_id, lines, n);
	return currency;
}

/*
 * LoadShopAndSkus() on Citus, in statements Citus runs on its fast path
 * (one table, shop_id = $1, the plan kept): the shop, the SKUs, and only
 * when a line is digital, which of them have stock rows.  A join of the
 * shop and its SKUs is planned anew on every call there.
 */
static char *
LoadShopAndSkusParts(int64 shop_id, CoLine *lines, int n, const char *method,
					 Interval **timeout)
{
	static SPIPlanPtr shop_plan = NULL;
	static SPIPlanPtr sku_plan = NULL;
	static SPIPlanPtr stock_plan = NULL;
	static const Oid shop_types[] = {INT8OID, TEXTOID};
	static const Oid sku_types[] = {INT8OID, TEXTARRAYOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	HeapTuple	tup;
	TupleDesc	td;
	bool		isnull;
	Datum		d;
	char	   *currency;
	int32		shop_buckets;
	bool		shop_queue;
	bool		shop_auto;
	bool		digital = false;
	uint64		i;

	om_plan(&shop_plan,
			"SELECT currency, CASE WHEN payment_timeouts ? $2"
			" THEN (payment_timeouts ->> $2)::interval ELSE payment_timeout END,"
			" stock_buckets, admission_queue, auto_buckets_max"
			" FROM order_mgmt.shop WHERE shop_id = $1",
			2, shop_types);
	values[0] = Int64GetDatum(shop_id);
	om_text_param(values, nulls, 1, method);
	om_exec(shop_plan, values, nulls, true, 1);
	if (SPI_processed == 0)
		om_shop_not_found(shop_id);
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	currency = TextDatumGetCString(SPI_getbinval(tup, td, 1, &isnull));
	d = SPI_getbinval(tup, td, 2, &isnull);
	*timeout = isnull ? NULL : DatumGetIntervalP(datumCopy(d, false, sizeof(Interval)));
	shop_buckets = DatumGetInt32(SPI_getbinval(tup, td, 3, &isnull));
	shop_queue = DatumGetBool(SPI_getbinval(tup, td, 4, &isnull));
	shop_auto = shop_buckets == 1 && DatumGetInt32(SPI_getbinval(tup, td, 5, &isnull)) > 1;

	om_plan(&sku_plan,
			"SELECT sku, price, stock_buckets, admission_queue, digital, product_id, auto_buckets"
			" FROM order_mgmt.sku WHERE shop_id = $1 AND sku = ANY ($2)",
			2, sku_types);
	values[1] = TextArray(lines, n);
	om_exec(sku_plan, values, NULL, true, 0);
	td = SPI_tuptable->tupdesc;
	for (i = 0; i < SPI_processed; i++)
	{
		CoLine	   *line;

		tup = SPI_tuptable->vals[i];
		line = FindLine(lines, n, SPI_getbinval(tup, td, 1, &isnull));
		if (line == NULL)
			continue;
		line->found = true;
		line->price = DatumGetNumericCopy(SPI_getbinval(tup, td, 2, &isnull));
		d = SPI_getbinval(tup, td, 3, &isnull);
		line->buckets = isnull ? shop_buckets : DatumGetInt32(d);
		line->auto_spread = isnull && shop_auto;
		if (isnull)
		{
			/* OM_SKU_BUCKETS_SQL */
			d = SPI_getbinval(tup, td, 7, &isnull);
			if (!isnull)
				line->buckets = Max(line->buckets, DatumGetInt32(d));
		}
		d = SPI_getbinval(tup, td, 4, &isnull);
		line->queue = isnull ? shop_queue : DatumGetBool(d);
		line->tracked = !DatumGetBool(SPI_getbinval(tup, td, 5, &isnull));
		line->product_id = NullableText(tup, td, 6);
		digital |= !line->tracked;
	}
	CheckSkusFound(shop_id, lines, n);

	/* a digital SKU's stock is tracked when it has a stock row */
	if (!digital)
		return currency;
	om_plan(&stock_plan,
			"SELECT sku FROM order_mgmt.stock WHERE shop_id = $1 AND sku = ANY ($2)",
			2, sku_types);
	om_exec(stock_plan, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		CoLine	   *line = FindLine(lines, n, SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc, 1, &isnull));

		if (line != NULL)
			line->tracked = true;
	}
	return currency;
}

/* Column col of tup as a C string, or NULL. */
static char *
NullableText(HeapTuple tup, TupleDesc td, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, td, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* The line (lines are sorted by SKU) of the SKU given as a text Datum, or NULL. */
static CoLine *
FindLine(CoLine *lines, int n, Datum sku)
{
	CoLine		key;

	key.sku = TextDatumGetCString(sku);
	return bsearch(&key, lines, n, sizeof(CoLine), CompareLine);
}

/* 22023 for the first line whose SKU the shop does not have. */
static void
CheckSkusFound(int64 shop_id, const CoLine *lines, int n)
{
	int			l;

	for (l = 0; l < n; l++)
		if (!lines[l].found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown sku \"%s\"", lines[l].sku),
					 errdetail("Shop " INT64_FORMAT " has no SKU \"%s\".", shop_id, lines[l].sku),
					 errhint("Create it with order_mgmt.upsert_sku().")));
}

/* The lines' SKUs as a text[], in line order. */
static Datum
TextArray(CoLine *lines, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);
	int			i;

	for (i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(lines[i].sku);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * The lines as the parameters of an INSERT that unnests them, in line
 * order: SKUs (text[]), quantities (int4[]), unit prices (numeric[]) and,
 * unless discounts is NULL, discounts (numeric[]).
 */
static void
LineArrays(CoLine *lines, int n, Datum *skus, Datum *qtys, Datum *prices,
		   Datum *discounts)
{
	Datum	   *qty_d = palloc(sizeof(Datum) * n);
	Datum	   *price_d = palloc(sizeof(Datum) * n);
	Datum	   *disc_d = palloc(sizeof(Datum) * n);
	int			i;

	for (i = 0; i < n; i++)
	{
		qty_d[i] = Int32GetDatum(lines[i].qty);
		price_d[i] = NumericGetDatum(lines[i].price);
		disc_d[i] = NumericGetDatum(lines[i].discount);
	}
	*skus = TextArray(lines, n);
	*qtys = PointerGetDatum(construct_array(qty_d, n, INT4OID, 4, true, TYPALIGN_INT));
	*prices = PointerGetDatum(construct_array(price_d, n, NUMERICOID, -1, false, TYPALIGN_INT));
	if (discounts)
		*discounts = PointerGetDatum(construct_array(disc_d, n, NUMERICOID, -1, false, TYPALIGN_INT));
}

/*
 * Hold stock for the order's tracked lines, in line (SKU) order
 * (reservation.c: OM001 when a SKU is short); the holds are appended to
 * detail as JSON objects.  Untracked lines (a digital SKU without a stock
 * row) hold nothing.
 */
static void
HoldLines(int64 shop_id, int64 order_id, CoLine *lines, int n, StringInfo detail)
{
	int			nholds;
	OmHold	   *holds = TrackedHolds(lines, n, &nholds);

	om_hold_stock(shop_id, order_id, 0, holds, nholds, detail);
}

/* HoldLines(), the holds pushed as jsonb objects onto *detail (an open array). */
static void
HoldLinesJsonb(int64 shop_id, int64 order_id, CoLine *lines, int n, JsonbParseState **detail)
{
	int			nholds;
	OmHold	   *holds = TrackedHolds(lines, n, &nholds);

	om_hold_stock_jsonb(shop_id, order_id, 0, holds, nholds, detail);
}

/* The holds of the tracked ones of n lines, *nholds of them. */
static OmHold *
TrackedHolds(CoLine *lines, int n, int *nholds_out)
{
	OmHold	   *holds = palloc(sizeof(OmHold) * n);
	int			nholds = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (!lines[i].tracked)
			continue;
		holds[nholds].sku = lines[i].sku;
		holds[nholds].qty = lines[i].qty;
		holds[nholds].buckets = lines[i].buckets;
		holds[nholds].queue = lines[i].queue;
		holds[nholds].auto_spread = lines[i].auto_spread;
		nholds++;
	}
	*nholds_out = nholds;
	return holds;
}
