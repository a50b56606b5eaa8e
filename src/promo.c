/*-------------------------------------------------------------------------
 *
 * promo.c
 *	  Promo codes (SPEC §5): create_promo, issue_winback_code, and the
 *	  claim and release of codes by orders.
 *
 * Codes match on code_key = normalize_code(code).  A claim is an 'active'
 * row of promo_redemption (the ledger).  For a code with a usage_limit the
 * claim also raises promo_code.used with a conditional UPDATE (used <
 * usage_limit), which under READ COMMITTED re-checks the newest row, so a
 * single-use code raced by many checkouts is won by exactly one.  A code
 * without a limit is claimed without touching its promo_code row, so a
 * campaign code never serializes checkouts.  Per-customer limits are kept
 * on a counter row per code and customer (or normalized e-mail for guests),
 * updated the same conditional way, so one customer's claims serialize on
 * that row and nobody else's.
 *
 * Lock order: the promo_code row comes before any stock row (reservation.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/numeric.h"

#include "clock.h"
#include "context.h"
#include "events.h"
#include "icu.h"
#include "money.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "order_lock.h"
#include "promo.h"
#include "rls.h"
#include "shop.h"
#include "spi_util.h"
#include "sweep.h"

static Numeric
GetNumeric(HeapTuple tup, TupleDesc td, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(tup, td, col, isnull);

	return *isnull ? NULL : DatumGetNumericCopy(d);
}

static char *
GetText(HeapTuple tup, TupleDesc td, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, td, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* The elements of a text[] Datum, or NULL with *n = 0 when null. */
static char **
TextArrayStrings(Datum d, bool isnull, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;
	int			i;

	*n = 0;
	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, n);
	out = palloc(sizeof(char *) * (*n + 1));
	for (i = 0; i < *n; i++)
		out[i] = nulls[i] ? NULL : TextDatumGetCString(elems[i]);
	return out;
}

/*
 * Read a promo code; false if there is none.  Inside SPI.  A schema of
 * 0.1.0 (before ALTER EXTENSION UPDATE) has no promo_code.email_key and no
 * scope: its codes are personal to a customer or to nobody, and apply to
 * the whole order.
 */
bool
om_promo_lookup(int64 shop_id, const char *code_key, OmPromo *p)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_010 = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID};
	Datum		values[2];
	HeapTuple	tup;
	TupleDesc	td;
	bool		isnull;
	Datum		d;
	SPIPlanPtr	use;

	if (om_has_column("promo_code", "scope_skus"))
	{
		om_plan(&plan,
				"SELECT code, kind::text, value, min_subtotal, usage_limit, per_customer_limit,"
				" customer_id, starts_at, ends_at, active, email_key, scope_products, scope_skus"
				" FROM order_mgmt.promo_code WHERE shop_id = $1 AND code_key = $2",
				2, argtypes);
		use = plan;
	}
	else
	{
		om_plan(&plan_010,
				"SELECT code, kind::text, value, min_subtotal, usage_limit, per_customer_limit,"
				" customer_id, starts_at, ends_at, active, NULL::text AS email_key,"
				" NULL::text[] AS scope_products, NULL::text[] AS scope_skus"
				" FROM order_mgmt.promo_code WHERE shop_id = $1 AND code_key = $2",
				2, argtypes);
		use = plan_010;
	}
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(code_key);
	om_exec(use, values, NULL, false, 1);	/* a new snapshot */
	memset(p, 0, sizeof(OmPromo));
	if (SPI_processed == 0)
		return false;

	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	p->code_key = pstrdup(code_key);
	p->code = GetText(tup, td, 1);
	p->kind = GetText(tup, td, 2);
	p->value = GetNumeric(tup, td, 3, &isnull);
	p->min_subtotal = GetNumeric(tup, td, 4, &isnull);
	d = SPI_getbinval(tup, td, 5, &isnull);
	p->limited = !isnull;
	p->usage_limit = isnull ? 0 : DatumGetInt32(d);
	d = SPI_getbinval(tup, td, 6, &isnull);
	p->per_customer = !isnull;
	p->per_customer_limit = isnull ? 0 : DatumGetInt32(d);
	p->customer_id = GetText(tup, td, 7);
	d = SPI_getbinval(tup, td, 8, &isnull);
	p->has_start = !isnull;
	p->starts_at = isnull ? 0 : DatumGetTimestampTz(d);
	d = SPI_getbinval(tup, td, 9, &isnull);
	p->has_end = !isnull;
	p->ends_at = isnull ? 0 : DatumGetTimestampTz(d);
	p->active = DatumGetBool(SPI_getbinval(tup, td, 10, &isnull));
	p->email_key = GetText(tup, td, 11);
	d = SPI_getbinval(tup, td, 12, &isnull);
	p->products = TextArrayStrings(d, isnull, &p->nproducts);
	d = SPI_getbinval(tup, td, 13, &isnull);
	p->skus = TextArrayStrings(d, isnull, &p->nskus);
	return true;
}

static char *
NumericText(Numeric n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

/*
 * The checks of SPEC §5 that a checkout makes before claiming (OM002).
 * entered is the code as the customer typed it; customer_id and email_key
 * (the order's e-mail normalized) say who checks out.  A personal code
 * belongs to a customer (customer_id) or, issued for a guest order, to an
 * e-mail address (email_key): then any order with that e-mail may use it,
 * a guest's or a member's who joined with it since (seed 003).  The
 * minimum subtotal of a code scoped to products or SKUs is judged on the
 * lines in its scope, by om_promo_discount().
 */
void
om_promo_validate(const OmPromo *p, const char *entered, const char *customer_id,
				  const char *email_key, Numeric subtotal)
{
	TimestampTz now = om_now();

	if (!p->active)
		ereport(ERROR,
				(errcode(ERRCODE_OM_PROMO_CODE_INVALID),
				 errmsg("promo code \"%s\" is not active", entered)));
	if ((p->has_start && now < p->starts_at) || (p->has_end && now >= p->ends_at))
		ereport(ERROR,
				(errcode(ERRCODE_OM_PROMO_CODE_INVALID),
				 errmsg("promo code \"%s\" is not valid at this time", entered),
				 errdetail("It is valid from %s until %s; it is now %s.",
						   /* timestamptz_to_str returns a static buffer */
						   p->has_start ? pstrdup(timestamptz_to_str(p->starts_at)) : "the start",
						   p->has_end ? pstrdup(timestamptz_to_str(p->ends_at)) : "further notice",
						   pstrdup(timestamptz_to_str(now)))));
	if (p->customer_id != NULL &&
		(customer_id == NULL || strcmp(customer_id, p->customer_id) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_OM_PROMO_CODE_INVALID),
				 errmsg("promo code \"%s\" belongs to another customer", entered),
				 errdetail("It is a personal code%s.",
						   customer_id ? "" : " and the order has no customer")));
	if (p->customer_id == NULL && p->email_key != NULL &&
		(email_key == NULL || strcmp(email_key, p->email_key) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_OM_PROMO_CODE_INVALID),
				 errmsg("promo code \"%s\" belongs to another customer", entered),
				 errdetail("It is a personal code for an e-mail address%s.",
						   email_key ? " other than the order's" : " and the order has no e-mail"),
				 errhint("Check out with the e-mail address the code was sent to.")));
	if (!OM_PROMO_SCOPED(p) &&
		DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(subtotal),
										 NumericGetDatum(p->min_subtotal))))
		ereport(ERROR,
				(errcode(ERRCODE_OM_PROMO_CODE_INVALID),
				 errmsg("promo code \"%s\" needs a subtotal of at least %s", entered,
						NumericText(p->min_subtotal)),
				 errdetail("The subtotal is %s.", NumericText(subtotal))));
}

/* Whether line l is in the scope of code p (a code without one: every line). */
static bool
InScope(const OmPromo *p, const OmPromoLine *l)
{
	int			i;

	if (!OM_PROMO_SCOPED(p))
		return true;
	for (i = 0; i < p->nskus; i++)
		if (strcmp(l->sku, p->skus[i]) == 0)
			return true;
	if (l->product_id != NULL)
		for (i = 0; i < p->nproducts; i++)
			if (strcmp(l->product_id, p->products[i]) == 0)
				return true;
	return false;
}

static void
AppendList(StringInfo buf, char **items, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		appendStringInfo(buf, "%s%s", i > 0 ? ", " : "", items[i]);
}

/*
 * The scope of code p as promo_usage shows it: "all", "products: MUG, TEE",
 * "skus: MUG-RED" or "products: MUG; skus: TEE-M".
 */
char *
om_promo_scope_text(const OmPromo *p)
{
	StringInfoData buf;

	if (!OM_PROMO_SCOPED(p))
		return pstrdup("all");
	initStringInfo(&buf);
	if (p->nproducts > 0)
	{
		appendStringInfoString(&buf, "products: ");
		AppendList(&buf, p->products, p->nproducts);
	}
	if (p->nskus > 0)
	{
		appendStringInfoString(&buf, p->nproducts > 0 ? "; skus: " : "skus: ");
		AppendList(&buf, p->skus, p->nskus);
	}
	return buf.data;
}

/*
 * The discount code p gives an order of these lines (checkout, add_lines,
 * edit_order: one rule for all), rounded to digits.  The code applies to
 * the lines in its scope (every line, or those whose SKU or product it
 * names): percent of their amount, a fixed amount up to their amount, or
 * the shipping fee.  A line discount is spread over the lines in scope by
 * amount, each share rounded down, the rounding rest on the largest of
 * them, which can always take it (lines[i].discount; 0 out of scope, for
 * free shipping or when the lines in scope come to 0).
 *
 * A scoped code must find a line in its scope, and the lines in scope
 * must reach its min_subtotal (om_promo_validate() judges a whole-order
 * code's minimum on the subtotal): OM002 otherwise, naming the scope.
 */
Numeric
om_promo_discount(const OmPromo *p, OmPromoLine *lines, int n, Numeric shipping_fee, int digits)
{
	Numeric		zero = om_num_int(0);
	Numeric		base = zero;
	Numeric		discount;
	Numeric		allocated = zero;
	int			largest = -1;
	int			i;

	for (i = 0; i < n; i++)
	{
		lines[i].discount = zero;
		if (!InScope(p, &lines[i]))
			continue;
		base = om_num_add(base, lines[i].amount);
		if (largest < 0 || om_num_cmp(lines[i].amount, lines[largest].amount) > 0)
			largest = i;
	}
	if (OM_PROMO_SCOPED(p) && largest < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OM_PROMO_CODE_INVALID),
				 errmsg("promo code \"%s\" applies to none of the order's lines", p->code),
				 errdetail("It applies only to %s.", om_promo_scope_text(p)),
				 errhint("Order one of them, or leave the code out.")));
	if (OM_PROMO_SCOPED(p) && om_num_cmp(base, p->min_subtotal) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OM_PROMO_CODE_INVALID),
				 errmsg("promo code \"%s\" needs a subtotal of at least %s on the lines it applies to",
						p->code, NumericText(p->min_subtotal)),
				 errdetail("The lines in its scope (%s) come to %s.", om_promo_scope_text(p),
						   NumericText(base))));

	if (strcmp(p->kind, "percent") == 0)
		discount = om_num_round(om_num_div(om_num_mul(base, p->value), om_num_int(100)), digits);
	else if (strcmp(p->kind, "amount") == 0)
		discount = om_num_round(om_num_min(p->value, base), digits);
	else
		return om_num_round(shipping_fee, digits);	/* free_shipping */
	if (largest < 0 || om_num_cmp(base, zero) <= 0)
		return discount;

	for (i = 0; i < n; i++)
	{
		if (!InScope(p, &lines[i]))
			continue;
		lines[i].discount =
			DatumGetNumeric(DirectFunctionCall2(numeric_trunc,
												NumericGetDatum(om_num_div(om_num_mul(discount, lines[i].amount), base)),
												Int32GetDatum(digits)));
		allocated = om_num_add(allocated, lines[i].discount);
	}
	lines[largest].discount = om_num_add(lines[largest].discount, om_num_sub(discount, allocated));
	return discount;
}

static void
CodeUsedUp(const OmPromo *p)
{
	ereport(ERROR,
			(errcode(ERRCODE_OM_PROMO_CODE_EXHAUSTED),
			 errmsg("promo code \"%s\" has been used up", p->code),
			 errdetail("Its usage limit of %d is reached.", p->usage_limit)));
}

/*
 * The lines of an order as a promo code sees them, in line order, with
 * their SKUs' product_id as it is now; room is left for extra more lines
 * after them (add_lines' new ones).  Inside SPI.
 */
OmPromoLine *
om_promo_order_lines(int64 shop_id, int64 order_id, int extra, int *n)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	Datum		values[2];
	OmPromoLine *lines;
	uint64		i;

	om_plan(&plan,
			"SELECT l.line_no, l.sku, l.unit_price * l.qty, k.product_id"
			" FROM order_mgmt.order_line l"
			" LEFT JOIN order_mgmt.sku k ON k.shop_id = l.shop_id AND k.sku = l.sku"
			" WHERE l.shop_id = $1 AND l.order_id = $2 ORDER BY l.line_no",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	om_exec(plan, values, NULL, true, 0);
	*n = (int) SPI_processed;
	lines = palloc0(sizeof(OmPromoLine) * (*n + extra + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;

		lines[i].line_no = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));
		lines[i].sku = GetText(tup, td, 2);
		lines[i].amount = GetNumeric(tup, td, 3, &isnull);
		lines[i].product_id = GetText(tup, td, 4);
	}
	return lines;
}

/* A re-claim (reactivate) makes the order's redemption active again. */
#define CLAIM_CONFLICT \
	" ON CONFLICT (shop_id, code_key, order_id) DO UPDATE" \
	"    SET state = 'active', claimed_at = EXCLUDED.claimed_at, released_at = NULL," \
	"        customer_id = EXCLUDED.customer_id, email_key = EXCLUDED.email_key," \
	"        limited = EXCLUDED.limited, who = EXCLUDED.who"

/*
 * Claim the code for an order (or re-claim it on reactivation): OM003 when
 * the code is used up, OM004 when the customer's limit is reached.
 *
 * Both limits are kept on rows that the claim updates conditionally: the
 * code's promo_code.used (codes with a usage_limit only) and the customer's
 * promo_customer_use.used (codes with a per-customer limit only), in that
 * order.  Under READ COMMITTED the conditional UPDATE waits for a
 * concurrent claim and re-checks the newest row, so a limit can never be
 * passed; under REPEATABLE READ or SERIALIZABLE the same conflict raises
 * 40001 and the caller retries.  The redemption records what it counted,
 * so a release gives back exactly that.
 */
void
om_promo_claim(int64 shop_id, int64 order_id, const OmPromo *p,
			   const char *customer_id, const char *email_key)
{
	static SPIPlanPtr claim_plan = NULL;
	static SPIPlanPtr unlimited_plan = NULL;
	static SPIPlanPtr count_plan = NULL;
	static SPIPlanPtr customer_plan = NULL;
	static const Oid claim_types[] = {INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID, BOOLOID,
	TIMESTAMPTZOID, TEXTOID};
	static const Oid customer_types[] = {INT8OID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	char	   *who = NULL;

	if (p->per_customer)
	{
		if (customer_id)
			who = psprintf("customer:%s", customer_id);
		else if (email_key)
			who = psprintf("email:%s", email_key);
		else
			ereport(ERROR,
					(errcode(ERRCODE_OM_PROMO_CUSTOMER_LIMIT),
					 errmsg("promo code \"%s\" is limited per customer", p->code),
					 errdetail("The order has neither a customer nor an e-mail address to count its uses by."),
					 errhint("Pass customer_id or email to checkout.")));
	}

	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(p->code_key);
	values[2] = Int64GetDatum(order_id);
	if (customer_id)
		values[3] = CStringGetTextDatum(customer_id);
	else
		nulls[3] = 'n';
	if (email_key)
		values[4] = CStringGetTextDatum(email_key);
	else
		nulls[4] = 'n';
	values[5] = BoolGetDatum(p->limited);
	values[6] = TimestampTzGetDatum(om_now());
	if (who)
		values[7] = CStringGetTextDatum(who);
	else
		nulls[7] = 'n';

	/*
	 * A limited code: its row first (lock order), then the ledger, in one
	 * statement.  An unlimited one: the ledger alone, as Citus cannot route
	 * an UPDATE the planner proved empty ("WHERE false").  On Citus a
	 * limited code's count is a statement of its own too: a data-modifying
	 * CTE feeding another is sent to every node there.
	 */
	if (p->limited && !om_on_citus())
	{
		om_plan(&claim_plan,
				"WITH u AS (UPDATE order_mgmt.promo_code SET used = used + 1"
				"    WHERE shop_id = $1 AND code_key = $2 AND used < usage_limit RETURNING 1)"
				" INSERT INTO order_mgmt.promo_redemption"
				"    (shop_id, code_key, order_id, customer_id, email_key, state, limited, who, claimed_at)"
				" SELECT $1, $2, $3, $4, $5, 'active', $6, $8, $7 WHERE EXISTS (SELECT FROM u)"
				CLAIM_CONFLICT,
				8, claim_types);
		om_exec(claim_plan, values, nulls, false, 0);
	}
	else
	{
		if (p->limited)
		{
			om_plan(&count_plan,
					"UPDATE order_mgmt.promo_code SET used = used + 1"
					" WHERE shop_id = $1 AND code_key = $2 AND used < usage_limit",
					2, claim_types);
			om_exec(count_plan, values, NULL, false, 0);
			if (SPI_processed != 1)
				CodeUsedUp(p);
		}
		om_plan(&unlimited_plan,
				"INSERT INTO order_mgmt.promo_redemption"
				"    (shop_id, code_key, order_id, customer_id, email_key, state, limited, who, claimed_at)"
				" VALUES ($1, $2, $3, $4, $5, 'active', $6, $8, $7)"
				CLAIM_CONFLICT,
				8, claim_types);
		om_exec(unlimited_plan, values, nulls, false, 0);
	}
	if (SPI_processed != 1)
		CodeUsedUp(p);

	if (who)
	{
		Datum		cvalues[4];

		om_plan(&customer_plan,
				"INSERT INTO order_mgmt.promo_customer_use AS c (shop_id, code_key, who, used)"
				" VALUES ($1, $2, $3, 1)"
				" ON CONFLICT (shop_id, code_key, who) DO UPDATE SET used = c.used + 1"
				" WHERE c.used < $4",
				4, customer_types);
		cvalues[0] = Int64GetDatum(shop_id);
		cvalues[1] = CStringGetTextDatum(p->code_key);
		cvalues[2] = CStringGetTextDatum(who);
		cvalues[3] = Int32GetDatum(p->per_customer_limit);
		om_exec(customer_plan, cvalues, NULL, false, 0);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OM_PROMO_CUSTOMER_LIMIT),
					 errmsg("promo code \"%s\" has reached its limit for this customer", p->code),
					 errdetail("%s %s has used it %d times; the limit is %d.",
							   customer_id ? "Customer" : "E-mail",
							   customer_id ? customer_id : email_key,
							   p->per_customer_limit, p->per_customer_limit)));
	}
}

/*
 * Cancel: the order's active redemption is released and the counts it
 * raised go down again, so the code can be used again (seed 000).  Lock
 * order as in the claim: the code's row, then the customer's.
 */
void
om_promo_release(int64 shop_id, int64 order_id, const char *code_key)
{
	const OmAct *act = om_act();
	static SPIPlanPtr release_plan = NULL;
	static SPIPlanPtr code_plan = NULL;
	static SPIPlanPtr customer_plan = NULL;
	static SPIPlanPtr nowait_code_plan = NULL;
	static SPIPlanPtr nowait_customer_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID};
	static const Oid count_types[] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[4];
	Datum		cvalues[3];
	char		cnulls[3] = {' ', ' ', ' '};
	bool		isnull;
	bool		limited;
	Datum		who;
	bool		who_null;
	StringInfoData detail;

	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(om_now());
	values[3] = CStringGetTextDatum(code_key);
	om_plan(&release_plan,
			"UPDATE order_mgmt.promo_redemption SET state = 'released', released_at = $3"
			" WHERE shop_id = $1 AND order_id = $2 AND code_key = $4 AND state = 'active'"
			" RETURNING limited, who",
			4, argtypes);
	om_exec(release_plan, values, NULL, false, 0);
	if (SPI_processed == 0)
		return;
	limited = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	who = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &who_null);
	if (!who_null)
		who = PointerGetDatum(DatumGetTextPCopy(who));

	cvalues[0] = Int64GetDatum(shop_id);
	cvalues[1] = CStringGetTextDatum(code_key);
	cvalues[2] = who_null ? (cnulls[2] = 'n', (Datum) 0) : who;
	if (limited)
	{
		if (act->nowait)
		{
			om_plan(&nowait_code_plan,
					"SELECT 1 FROM order_mgmt.promo_code WHERE shop_id = $1 AND code_key = $2"
					" FOR NO KEY UPDATE NOWAIT",
					3, count_types);
			om_exec(nowait_code_plan, cvalues, cnulls, false, 0);
		}
		if (act->batch)
			/* a sweep batch gives the use back at its end (sweep_batch.c) */
			om_batch_add_promo(act->batch, shop_id, code_key, NULL);
		else
		{
			om_plan(&code_plan,
					"UPDATE order_mgmt.promo_code SET used = used - 1 WHERE shop_id = $1 AND code_key = $2",
					3, count_types);
			om_exec(code_plan, cvalues, cnulls, false, 0);
		}
	}
	if (!who_null)
	{
		if (act->nowait)
		{
			om_plan(&nowait_customer_plan,
					"SELECT 1 FROM order_mgmt.promo_customer_use"
					" WHERE shop_id = $1 AND code_key = $2 AND who = $3 FOR UPDATE NOWAIT",
					3, count_types);
			om_exec(nowait_customer_plan, cvalues, cnulls, false, 0);
		}
		if (act->batch)
			om_batch_add_promo(act->batch, shop_id, code_key, TextDatumGetCString(who));
		else
		{
			om_plan(&customer_plan,
					"UPDATE order_mgmt.promo_customer_use SET used = used - 1"
					" WHERE shop_id = $1 AND code_key = $2 AND who = $3",
					3, count_types);
			om_exec(customer_plan, cvalues, cnulls, false, 0);
		}
	}

	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"code\": ");
	escape_json(&detail, code_key);
	appendStringInfoChar(&detail, '}');
	om_event_write(shop_id, order_id, "promo_release", NULL, NULL, detail.data);
}

static void
CheckPositiveOrNull(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (!PG_ARGISNULL(argno) && PG_GETARG_INT32(argno) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive", name),
				 errdetail("Got %d.", PG_GETARG_INT32(argno))));
}

/* A percent code takes (0, 100], an amount code > 0, free shipping >= 0. */
static void
CheckPromoValue(const char *kind, Numeric value)
{
	Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));

	if (!OM_NUMERIC_IS_FINITE(value) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(value), zero)) ||
		(strcmp(kind, "free_shipping") != 0 &&
		 !DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(value), zero))) ||
		(strcmp(kind, "percent") == 0 &&
		 DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(value),
										  DirectFunctionCall1(int4_numeric, Int32GetDatum(100))))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value %s for a promo code of kind %s", NumericText(value), kind),
				 errdetail("A percent code takes more than 0 and at most 100, an amount code more than 0.")));
	om_check_amount_range("value", value);
}

/*
 * Insert a promo code; 23505 if the normalized key exists.  Inside SPI.
 * products and skus are its scope as text[] (0: none).  email_key and a
 * scope need a 0.2.0 schema; a 0.1.0 one gets neither (its create_promo
 * has no scope arguments, and a win-back code for a guest asks first).
 */
static void
InsertPromo(int64 shop_id, const char *code_key, const char *code, const char *kind,
			Numeric value, Datum usage_limit, bool limit_null,
			Datum per_customer_limit, bool per_customer_null, Numeric min_subtotal,
			Datum starts_at, bool starts_null, Datum ends_at, bool ends_null,
			const char *customer_id, const char *email_key, Datum products, Datum skus)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_010 = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID, INT4OID,
		INT4OID, NUMERICOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID, TEXTOID,
	TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[15];
	char		nulls[15] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(code_key);
	values[2] = CStringGetTextDatum(code);
	values[3] = CStringGetTextDatum(kind);
	values[4] = NumericGetDatum(value);
	values[5] = usage_limit;
	nulls[5] = limit_null ? 'n' : ' ';
	values[6] = per_customer_limit;
	nulls[6] = per_customer_null ? 'n' : ' ';
	values[7] = NumericGetDatum(min_subtotal);
	values[8] = starts_at;
	nulls[8] = starts_null ? 'n' : ' ';
	values[9] = ends_at;
	nulls[9] = ends_null ? 'n' : ' ';
	om_text_param(values, nulls, 10, customer_id);
	values[11] = TimestampTzGetDatum(om_now());
	om_text_param(values, nulls, 12, email_key);
	values[13] = products;
	nulls[13] = products ? ' ' : 'n';
	values[14] = skus;
	nulls[14] = skus ? ' ' : 'n';
	if (om_has_column("promo_code", "scope_skus"))
	{
		om_plan(&plan,
				"INSERT INTO order_mgmt.promo_code (shop_id, code_key, code, kind, value, usage_limit,"
				" per_customer_limit, min_subtotal, starts_at, ends_at, customer_id, created_at,"
				" email_key, scope_products, scope_skus)"
				" VALUES ($1, $2, $3, $4::order_mgmt.promo_kind, $5, $6, $7, $8, $9, $10, $11, $12,"
				" $13, $14, $15)"
				" ON CONFLICT (shop_id, code_key) DO NOTHING",
				15, argtypes);
		om_exec(plan, values, nulls, false, 0);
	}
	else
	{
		Assert(email_key == NULL && products == 0 && skus == 0);
		om_plan(&plan_010,
				"INSERT INTO order_mgmt.promo_code (shop_id, code_key, code, kind, value, usage_limit,"
				" per_customer_limit, min_subtotal, starts_at, ends_at, customer_id, created_at)"
				" VALUES ($1, $2, $3, $4::order_mgmt.promo_kind, $5, $6, $7, $8, $9, $10, $11, $12)"
				" ON CONFLICT (shop_id, code_key) DO NOTHING",
				12, argtypes);
		om_exec(plan_010, values, nulls, false, 0);
	}
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("promo code \"%s\" already exists in shop " INT64_FORMAT, code, shop_id),
				 errdetail("Codes match on their normalized form \"%s\".", code_key)));
}

/* At most this many products, and as many SKUs, in a code's scope. */
#define MAX_SCOPE	100

/*
 * A scope argument of create_promo (products or skus): NULL for none, or
 * a one-dimensional text[] of 1 .. MAX_SCOPE distinct identifiers, each
 * an element (product or sku) as om_check_identifier() wants it (22023
 * otherwise).  Returns the elements and sets *n.
 */
static char **
ScopeArg(FunctionCallInfo fcinfo, int argno, const char *name, const char *element, int *n)
{
	ArrayType  *arr;
	char	  **items;
	int			i;
	int			j;

	*n = 0;
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", name)));
	items = TextArrayStrings(PointerGetDatum(arr), false, n);
	if (*n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", name),
				 errhint("Pass NULL (leave it out) for a code that applies to the whole order.")));
	if (*n > MAX_SCOPE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s has too many entries", name),
				 errdetail("It has %d; at most %d are allowed.", *n, MAX_SCOPE)));
	for (i = 0; i < *n; i++)
	{
		if (items[i] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain NULL", name),
					 errdetail("Element %d is NULL.", i + 1)));
		om_check_identifier(element, items[i]);
		for (j = 0; j < i; j++)
			if (strcmp(items[i], items[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s lists \"%s\" twice", name, items[i]),
						 errdetail("Elements %d and %d are the same.", j + 1, i + 1)));
	}
	return items;
}

/*
 * Every SKU and product of a scope must be in the shop's catalogue (22023
 * otherwise): a product is known when a SKU of the shop has its
 * product_id.  A typo would otherwise make a code that never applies.
 * Inside SPI.
 */
static void
CheckScopeKnown(int64 shop_id, Datum products, char **product_items, int nproducts,
				Datum skus, char **sku_items, int nskus)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool	   *product_found = palloc0(sizeof(bool) * (nproducts + 1));
	bool	   *sku_found = palloc0(sizeof(bool) * (nskus + 1));
	uint64		r;
	int			i;

	om_plan(&plan,
			"SELECT sku, product_id FROM order_mgmt.sku"
			" WHERE shop_id = $1 AND (sku = ANY ($2) OR product_id = ANY ($3))",
			3, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = skus;
	nulls[1] = skus ? ' ' : 'n';
	values[2] = products;
	nulls[2] = products ? ' ' : 'n';
	om_exec(plan, values, nulls, true, 0);
	for (r = 0; r < SPI_processed; r++)
	{
		char	   *sku = GetText(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		char	   *product = GetText(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2);

		for (i = 0; i < nskus; i++)
			sku_found[i] |= strcmp(sku, sku_items[i]) == 0;
		for (i = 0; product && i < nproducts; i++)
			product_found[i] |= strcmp(product, product_items[i]) == 0;
	}
	for (i = 0; i < nskus; i++)
		if (!sku_found[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown sku \"%s\"", sku_items[i]),
					 errdetail("Shop " INT64_FORMAT " has no SKU \"%s\".", shop_id, sku_items[i]),
					 errhint("Create it with order_mgmt.upsert_sku() before the code that names it.")));
	for (i = 0; i < nproducts; i++)
		if (!product_found[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown product \"%s\"", product_items[i]),
					 errdetail("No SKU of shop " INT64_FORMAT " has product_id \"%s\".", shop_id,
							   product_items[i]),
					 errhint("Give a SKU this product_id with order_mgmt.upsert_sku() before the code that names it.")));
}

/*
 * create_promo(shop_id, code, kind, value, usage_limit, per_customer_limit,
 *				min_subtotal, starts_at, ends_at, customer_id, products, skus)
 *	-> text code_key
 *
 * products and skus (0.2.0) limit the code to the lines of those products
 * or SKUs (either list); NULL for both: the whole order.
 */
PG_FUNCTION_INFO_V1(om_create_promo);
Datum
om_create_promo(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	char	   *code;
	char	   *code_key;
	char	   *kind;
	Numeric		value;
	Numeric		min_subtotal;
	Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	char	   *customer_id = NULL;
	char	  **products;
	char	  **skus;
	int			nproducts;
	int			nskus;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "code");
	OM_ARG_NOT_NULL(2, "kind");
	OM_ARG_NOT_NULL(3, "value");
	shop_id = PG_GETARG_INT64(0);
	code = text_to_cstring(PG_GETARG_TEXT_PP(1));
	code_key = om_normalize(code, true);
	om_check_identifier("promo code", code_key);
	kind = DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(2)));
	value = PG_GETARG_NUMERIC(3);
	min_subtotal = PG_ARGISNULL(6) ? DatumGetNumeric(zero) : PG_GETARG_NUMERIC(6);

	CheckPromoValue(kind, value);
	if (!OM_NUMERIC_IS_FINITE(min_subtotal) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(min_subtotal), zero)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_subtotal must be a finite number of at least 0")));
	om_check_amount_range("min_subtotal", min_subtotal);
	CheckPositiveOrNull(fcinfo, 4, "usage_limit");
	CheckPositiveOrNull(fcinfo, 5, "per_customer_limit");
	if (!PG_ARGISNULL(7) && !PG_ARGISNULL(8) &&
		PG_GETARG_TIMESTAMPTZ(8) <= PG_GETARG_TIMESTAMPTZ(7))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ends_at must be after starts_at")));
	if (!PG_ARGISNULL(9))
		customer_id = text_to_cstring(PG_GETARG_TEXT_PP(9));
	/* a 0.1.0 install's create_promo has no scope arguments */
	products = ScopeArg(fcinfo, 10, "products", "product", &nproducts);
	skus = ScopeArg(fcinfo, 11, "skus", "sku", &nskus);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_require_shop(shop_id);
	if (customer_id)
		om_require_customer(shop_id, customer_id);
	if (products || skus)
		CheckScopeKnown(shop_id, products ? PG_GETARG_DATUM(10) : (Datum) 0, products, nproducts,
						skus ? PG_GETARG_DATUM(11) : (Datum) 0, skus, nskus);
	InsertPromo(shop_id, code_key, code, kind, value,
				PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4), PG_ARGISNULL(4),
				PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5), PG_ARGISNULL(5),
				min_subtotal,
				PG_ARGISNULL(7) ? (Datum) 0 : PG_GETARG_DATUM(7), PG_ARGISNULL(7),
				PG_ARGISNULL(8) ? (Datum) 0 : PG_GETARG_DATUM(8), PG_ARGISNULL(8),
				customer_id, NULL,
				products ? PG_GETARG_DATUM(10) : (Datum) 0,
				skus ? PG_GETARG_DATUM(11) : (Datum) 0);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(code_key));
}

/*
 * issue_winback_code(shop_id, order_id, kind, value, valid_for) -> text
 *
 * A personal, single-use code for the customer of a cancelled order (seed
 * 003): BACK-<order_no>, valid from now for valid_for.  Issuing it twice
 * returns the same code.  A member's code is the customer's (customer_id);
 * a guest order's is its e-mail's (email_key = normalize_email(email)),
 * which a later guest checkout or a member who joins with that e-mail
 * may use.  A guest order without an e-mail gets none (22023).
 */
PG_FUNCTION_INFO_V1(om_issue_winback_code);
Datum
om_issue_winback_code(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr order_plan = NULL;
	static const Oid order_types[] = {INT8OID, INT8OID};
	int64		shop_id;
	int64		order_id;
	Datum		values[2];
	HeapTuple	tup;
	TupleDesc	td;
	char	   *status;
	char	   *customer_id;
	char	   *email;
	char	   *email_key = NULL;
	char	   *code;
	char	   *code_key;
	Interval   *valid_for;
	TimestampTz now = om_now();
	Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	OmPromo		existing;
	text	   *result;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	OM_ARG_NOT_NULL(2, "kind");
	OM_ARG_NOT_NULL(3, "value");
	OM_ARG_NOT_NULL(4, "valid_for");
	shop_id = PG_GETARG_INT64(0);
	order_id = PG_GETARG_INT64(1);
	valid_for = PG_GETARG_INTERVAL_P(4);
	if (!DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(valid_for),
										  IntervalPGetDatum(palloc0(sizeof(Interval))))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_for must be a positive interval")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&order_plan,
			"SELECT status::text, customer_id, order_no, email FROM order_mgmt.orders"
			" WHERE shop_id = $1 AND order_id = $2",
			2, order_types);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	om_exec(order_plan, values, NULL, true, 1);
	if (SPI_processed == 0)
		om_order_not_found(shop_id, order_id);
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	status = GetText(tup, td, 1);
	customer_id = GetText(tup, td, 2);
	code = psprintf("BACK-%s", GetText(tup, td, 3));
	email = GetText(tup, td, 4);
	CheckPromoValue(DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(2))),
					PG_GETARG_NUMERIC(3));
	if (strcmp(status, "cancelled") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
				 errmsg("cannot issue a win-back code for order " INT64_FORMAT ": it is %s",
						order_id, status),
				 errdetail("Win-back codes are for customers whose order was cancelled.")));
	if (customer_id == NULL)
	{
		if (email == NULL || (email_key = om_normalize(email, true))[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot issue a win-back code for order " INT64_FORMAT
							": it has no customer and no e-mail", order_id),
					 errdetail("A win-back code is personal: it goes to the order's customer or, for a guest order, to its e-mail address.")));
		om_require_column("promo_code", "email_key", "a win-back code for a guest order");
	}

	code_key = om_normalize(code, true);
	if (!om_promo_lookup(shop_id, code_key, &existing))
		InsertPromo(shop_id, code_key, code,
					DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(2))),
					PG_GETARG_NUMERIC(3),
					Int32GetDatum(1), false, (Datum) 0, true, DatumGetNumeric(zero),
					TimestampTzGetDatum(now), false,
					DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now),
										IntervalPGetDatum(valid_for)), false,
					customer_id, email_key, (Datum) 0, (Datum) 0);
	result = om_spi_text(code_key);	/* code_key lives in SPI's memory */
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}
