/*-------------------------------------------------------------------------
 *
 * order_edit.c
 *	  edit_order(): support staff change an order after checkout (issue 18,
 *	  seeds 002 and 003) — a line's quantity (0 removes it), another
 *	  variant of the same product, new lines, a line's price (改價), a
 *	  promo code applied or removed — in one call judged by checkout's
 *	  rules.
 *
 * One call, one transaction, in the global lock order: the order row
 * (om_enter_order), the customer's store credit balance (credit the new
 * total no longer needs goes back), the promo code rows (a code removed is
 * released, a code applied is claimed under its limits), then the stock
 * rows per SKU (om_rehold_stock: units no longer wanted go back, new ones
 * are held or OM001).  The lines are re-priced with checkout's rule
 * (om_promo_discount), the totals written with the payment status the
 * money now supports, and one 'edit' event records every line and amount
 * before and after.  The order's lock_version is the edit's version:
 * expected_version makes two agents editing at once fail the second
 * (OM013) instead of both winning blindly.
 *
 * Lines are never deleted: a removed line keeps its row with qty 0.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "clock.h"
#include "events.h"
#include "icu.h"
#include "machines.h"
#include "money.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "order_lock.h"
#include "promo.h"
#include "rls.h"
#include "spi_util.h"
#include "stock.h"
#include "store_credit.h"

/* An edit has at most this many changes. */
#define MAX_CHANGES 100

/* One line of the order as the edit goes: as it was, and as it will be. */
typedef struct EditLine
{
	int32		line_no;
	bool		added;			/* a new line: no row yet */
	char	   *old_sku;
	int32		old_qty;
	Numeric		old_price;
	Numeric		old_discount;
	char	   *sku;
	int32		qty;
	Numeric		price;
	Numeric		discount;
	/* the SKU's, read after the changes are known */
	char	   *product_id;
	bool		tracked;
	int32		buckets;
	bool		queue;
} EditLine;

/* The order as the edit reads it and the totals it writes. */
typedef struct Edit
{
	OmOrder		o;
	int64		version;
	char	   *currency;
	int			digits;
	Numeric		subtotal;
	Numeric		discount;
	Numeric		shipping_fee;
	Numeric		total;
	Numeric		credit;			/* credit_applied (0 on a 0.1.0 schema) */
	char	   *customer_id;
	char	   *email_key;
	char	   *promo_code;		/* as entered, or NULL */
	char	   *promo_key;		/* claimed, or NULL */
	EditLine   *lines;
	int			nlines;
	int			maxlines;
	/* what the changes ask for the promo code */
	bool		promo_changed;
	char	   *new_code;		/* NULL: remove */
	bool		price_changed;
} Edit;

static void CheckEditable(const Edit *e);
static void LoadOrder(Edit *e, bool credit_col);
static void LoadLines(Edit *e);
static void ApplyChanges(Edit *e, Jsonb *changes);
static void LoadSkus(Edit *e);
static void Reprice(Edit *e, OmPromo *promo, bool *has_promo);
static int	DerivePayment(const Edit *e, Numeric new_due);
static void WriteLines(const Edit *e);
static int64 WriteOrder(const Edit *e, Numeric credit, int payment);
static void Rehold(const Edit *e, StringInfo released, StringInfo held);
static void WriteEvent(const Edit *e, const char *reason, Numeric old_subtotal,
					   Numeric old_discount, Numeric old_total, int old_payment,
					   int payment, const char *old_code, StringInfo released,
					   StringInfo held, Numeric credit_back);

static void
BadChange(int index, const char *what, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("changes[%d]: %s", index, what),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("changes is a JSON array of objects such as {\"op\": \"set_qty\", \"line\": 1, \"qty\": 2}; "
					 "op is set_qty, swap, add, set_price or promo.")));
}

/*
 * edit_order(shop_id, order_id, changes, reason, expected_version)
 *	-> bigint (the order's new lock_version)
 */
PG_FUNCTION_INFO_V1(om_edit_order);
Datum
om_edit_order(PG_FUNCTION_ARGS)
{
	Edit		e;
	int64		shop_id;
	int64		order_id;
	char	   *reason;
	OmPromo		promo;
	bool		has_promo = false;
	Numeric		old_subtotal;
	Numeric		old_discount;
	Numeric		old_total;
	Numeric		credit;
	Numeric		credit_back;
	Numeric		zero = om_num_int(0);
	int			old_payment;
	int			payment;
	char	   *old_code;
	bool		credit_col;
	StringInfoData released;
	StringInfoData held;
	int64		version;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	OM_ARG_NOT_NULL(2, "changes");
	OM_ARG_NOT_NULL(3, "reason");
	shop_id = PG_GETARG_INT64(0);
	order_id = PG_GETARG_INT64(1);
	reason = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (strspn(reason, " \t\r\n") == strlen(reason) || strlen(reason) > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reason must say why the order is edited"),
				 errdetail("Got %d characters; a reason is 1 to 1000 characters, not only blanks.",
						   (int) strlen(reason))));

	memset(&e, 0, sizeof(e));
	om_enter_order(shop_id, order_id, &e.o);
	credit_col = om_has_column("orders", "credit_applied");
	LoadOrder(&e, credit_col);
	if (!PG_ARGISNULL(4) && PG_GETARG_INT64(4) != e.version)
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
				 errmsg("order " INT64_FORMAT " changed since it was read", order_id),
				 errdetail("The edit expected version " INT64_FORMAT "; the order is at version " INT64_FORMAT ".",
						   PG_GETARG_INT64(4), e.version),
				 errhint("Reload the order (lock_version) and edit it again.")));
	CheckEditable(&e);
	LoadLines(&e);
	ApplyChanges(&e, PG_GETARG_JSONB_P(2));
	LoadSkus(&e);

	old_subtotal = e.subtotal;
	old_discount = e.discount;
	old_total = e.total;
	old_payment = e.o.payment;
	old_code = e.promo_code;

	/* the store credit the new total no longer needs goes back first */
	credit = e.credit;
	credit_back = zero;
	Reprice(&e, &promo, &has_promo);
	if (om_num_cmp(e.total, credit) < 0)
	{
		credit_back = om_num_sub(credit, e.total);
		credit = e.total;
		om_credit_move(shop_id, e.customer_id, order_id, "returned", credit_back, reason);
	}

	/* the promo code rows: the old code released, the new one claimed */
	if (e.promo_changed)
	{
		if (e.promo_key)
			om_promo_release(shop_id, order_id, e.promo_key);
		if (has_promo)
			om_promo_claim(shop_id, order_id, &promo, e.customer_id, e.email_key);
		e.promo_code = has_promo ? e.new_code : NULL;
		e.promo_key = has_promo ? promo.code_key : NULL;
	}

	/* the stock, per SKU in lock order */
	initStringInfo(&released);
	initStringInfo(&held);
	appendStringInfoChar(&released, '[');
	appendStringInfoChar(&held, '[');
	Rehold(&e, &released, &held);
	appendStringInfoChar(&released, ']');
	appendStringInfoChar(&held, ']');

	payment = DerivePayment(&e, om_num_sub(e.total, credit));
	WriteLines(&e);
	version = WriteOrder(&e, credit, payment);
	WriteEvent(&e, reason, old_subtotal, old_discount, old_total, old_payment, payment,
			   old_code, &released, &held, credit_back);
	SPI_finish();
	PG_RETURN_INT64(version);
}

/*
 * An order can be edited until it ships: not archived (OM008), not
 * cancelled or completed, its delivery still before shipment (OM013).
 */
static void
CheckEditable(const Edit *e)
{
	const OmOrder *o = &e->o;

	if (o->archived)
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_ARCHIVED),
				 errmsg("cannot edit order " INT64_FORMAT ": it is archived", o->order_id),
				 errhint("Unarchive it first with order_mgmt.unarchive().")));
	if (o->status == OS_CANCELLED || o->status == OS_COMPLETED)
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
				 errmsg("cannot edit order " INT64_FORMAT ": it is %s", o->order_id,
						om_state_name(OM_MACHINE_ORDER, o->status)),
				 errdetail("Only a pending or confirmed order that has not shipped can be edited."),
				 o->status == OS_CANCELLED ?
				 errhint("Reactivate it first with order_mgmt.reactivate().") : 0));
	if (!om_delivery_pre_shipment(o->delivery))
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
				 errmsg("cannot edit order " INT64_FORMAT ": it has shipped", o->order_id),
				 errdetail("Its delivery is %s; an order can be edited until it ships.",
						   om_state_name(OM_MACHINE_DELIVERY, o->delivery)),
				 errhint("Use a return or an exchange (order_mgmt.request_return(), request_exchange()).")));
}

static char *
OptText(HeapTuple tup, TupleDesc td, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, td, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* The order's version, money and promo code (its row is locked). */
static void
LoadOrder(Edit *e, bool credit_col)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_010 = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	Datum		values[2];
	HeapTuple	tup;
	TupleDesc	td;
	bool		isnull;

#define LOAD_SQL(CREDIT) \
	"SELECT lock_version, currency, subtotal, discount, shipping_fee, total, customer_id," \
	" email_key, promo_code, promo_key, " CREDIT \
	" FROM order_mgmt.orders WHERE shop_id = $1 AND order_id = $2"

	values[0] = Int64GetDatum(e->o.shop_id);
	values[1] = Int64GetDatum(e->o.order_id);
	if (credit_col)
		om_exec(om_plan(&plan, LOAD_SQL("credit_applied"), 2, argtypes), values, NULL, false, 1);
	else
		om_exec(om_plan(&plan_010, LOAD_SQL("0::numeric"), 2, argtypes), values, NULL, false, 1);
#undef LOAD_SQL
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	e->version = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
	e->currency = OptText(tup, td, 2);
	e->digits = om_currency_digits(e->currency);
	e->subtotal = DatumGetNumericCopy(SPI_getbinval(tup, td, 3, &isnull));
	e->discount = DatumGetNumericCopy(SPI_getbinval(tup, td, 4, &isnull));
	e->shipping_fee = DatumGetNumericCopy(SPI_getbinval(tup, td, 5, &isnull));
	e->total = DatumGetNumericCopy(SPI_getbinval(tup, td, 6, &isnull));
	e->customer_id = OptText(tup, td, 7);
	e->email_key = OptText(tup, td, 8);
	e->promo_code = OptText(tup, td, 9);
	e->promo_key = OptText(tup, td, 10);
	e->credit = DatumGetNumericCopy(SPI_getbinval(tup, td, 11, &isnull));
}

/* The order's lines, by line_no, with room for the lines changes add. */
static void
LoadLines(Edit *e)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	Datum		values[2];
	uint64		i;

	om_plan(&plan,
			"SELECT line_no, sku, qty, unit_price, discount FROM order_mgmt.order_line"
			" WHERE shop_id = $1 AND order_id = $2 ORDER BY line_no",
			2, argtypes);
	values[0] = Int64GetDatum(e->o.shop_id);
	values[1] = Int64GetDatum(e->o.order_id);
	om_exec(plan, values, NULL, false, 0);
	e->nlines = (int) SPI_processed;
	e->maxlines = e->nlines + MAX_CHANGES;
	e->lines = palloc0(sizeof(EditLine) * e->maxlines);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		EditLine   *l = &e->lines[i];
		bool		isnull;

		l->line_no = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));
		l->old_sku = l->sku = OptText(tup, td, 2);
		l->old_qty = l->qty = DatumGetInt32(SPI_getbinval(tup, td, 3, &isnull));
		l->old_price = l->price = DatumGetNumericCopy(SPI_getbinval(tup, td, 4, &isnull));
		l->old_discount = l->discount = DatumGetNumericCopy(SPI_getbinval(tup, td, 5, &isnull));
	}
}

/* A whole JSON number in lo .. hi, for changes[index].key. */
static int32
WholeNumber(int index, const char *key, JsonbValue *v, int32 lo, int32 hi)
{
	Numeric		n;

	if (v->type != jbvNumeric)
		BadChange(index, psprintf("%s must be a number", key), NULL);
	n = v->val.numeric;
	if (!OM_NUMERIC_IS_FINITE(n) ||
		om_num_cmp(n, DatumGetNumeric(DirectFunctionCall2(numeric_trunc, NumericGetDatum(n),
														  Int32GetDatum(0)))) != 0 ||
		om_num_cmp(n, om_num_int(lo)) < 0 || om_num_cmp(n, om_num_int(hi)) > 0)
		BadChange(index, psprintf("%s must be a whole number from %d to %d", key, lo, hi),
				  psprintf("Got %s.", om_num_text(n)));
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(n)));
}

static char *
JsonString(int index, const char *key, JsonbValue *v)
{
	char	   *s;

	if (v->type != jbvString)
		BadChange(index, psprintf("%s must be a string", key), NULL);
	s = pnstrdup(v->val.string.val, v->val.string.len);
	om_check_identifier(psprintf("changes[%d].%s", index, key), s);
	return s;
}

static EditLine *
FindEditLine(Edit *e, int index, int32 line_no)
{
	int			i;

	for (i = 0; i < e->nlines; i++)
		if (e->lines[i].line_no == line_no)
			return &e->lines[i];
	BadChange(index, psprintf("order " INT64_FORMAT " has no line %d", e->o.order_id, line_no),
			  psprintf("Its lines are 1 to %d.", e->nlines > 0 ? e->lines[e->nlines - 1].line_no : 0));
	return NULL;				/* keep compiler quiet */
}

/*
 * Only order_mgmt_admin (or a superuser) sets prices (改價), unless the
 * shop lets its app role do it too (shop.app_sets_prices).
 */
static void
CheckMaySetPrice(const Edit *e, int index)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	Oid			admin = get_role_oid("order_mgmt_admin", true);
	Oid			app = get_role_oid("order_mgmt_app", true);
	Oid			me = GetOuterUserId();

	if (superuser_arg(me) || (OidIsValid(admin) && has_privs_of_role(me, admin)))
		return;
	if (OidIsValid(app) && has_privs_of_role(me, app) && om_has_column("shop", "app_sets_prices"))
	{
		values[0] = Int64GetDatum(e->o.shop_id);
		om_exec(om_plan(&plan, "SELECT app_sets_prices FROM order_mgmt.shop WHERE shop_id = $1",
						1, argtypes), values, NULL, true, 1);
		if (SPI_processed == 1 &&
			DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("changes[%d]: only the merchant may set a line's price", index),
			 errdetail("set_price needs the privileges of order_mgmt_admin; role \"%s\" does not have them, and shop " INT64_FORMAT " does not open it to order_mgmt_app.",
					   GetUserNameFromId(me, false), e->o.shop_id),
			 errhint("Ask a merchant, or set the shop's app_sets_prices with order_mgmt.update_shop().")));
}

/*
 * Apply the changes, in order, to the lines in memory:
 *	{"op": "set_qty", "line": n, "qty": q}		q from 0 (removes the line)
 *	{"op": "swap", "line": n, "sku": s}			another variant, same price
 *	{"op": "add", "sku": s, "qty": q}			at the SKU's price
 *	{"op": "set_price", "line": n, "unit_price": p}	admin only
 *	{"op": "promo", "code": c}					c null removes the code
 */
static void
ApplyChanges(Edit *e, Jsonb *changes)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			index = 0;
	int32		next_line = e->nlines > 0 ? e->lines[e->nlines - 1].line_no + 1 : 1;

	if (JB_ROOT_IS_SCALAR(changes) || !JB_ROOT_IS_ARRAY(changes) || JB_ROOT_COUNT(changes) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("changes must be a non-empty JSON array"),
				 errhint("changes is a JSON array of objects such as {\"op\": \"set_qty\", \"line\": 1, \"qty\": 2}.")));
	if (JB_ROOT_COUNT(changes) > MAX_CHANGES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too many changes"),
				 errdetail("Got %u; an edit has at most %d.", JB_ROOT_COUNT(changes), MAX_CHANGES)));

	it = JsonbIteratorInit(&changes->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbIterator *cit;
		JsonbValue	cv;
		JsonbIteratorToken ctok;
		char	   *key = NULL;
		char	   *op = NULL;
		bool		has_line = false,
					has_qty = false,
					has_sku = false,
					has_price = false,
					has_code = false;
		int32		line_no = 0;
		int32		qty = 0;
		char	   *sku = NULL;
		Numeric		price = NULL;
		char	   *code = NULL;

		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			BadChange(index, "each change must be a JSON object", NULL);
		cit = JsonbIteratorInit(v.val.binary.data);
		while ((ctok = JsonbIteratorNext(&cit, &cv, true)) != WJB_DONE)
		{
			if (ctok == WJB_KEY)
			{
				key = pnstrdup(cv.val.string.val, cv.val.string.len);
				continue;
			}
			if (ctok != WJB_VALUE)
				continue;
			if (strcmp(key, "op") == 0)
			{
				if (cv.type != jbvString)
					BadChange(index, "op must be a string", NULL);
				op = pnstrdup(cv.val.string.val, cv.val.string.len);
			}
			else if (strcmp(key, "line") == 0)
			{
				line_no = WholeNumber(index, "line", &cv, 1, INT_MAX);
				has_line = true;
			}
			else if (strcmp(key, "qty") == 0)
			{
				qty = WholeNumber(index, "qty", &cv, 0, OM_MAX_QTY);
				has_qty = true;
			}
			else if (strcmp(key, "sku") == 0)
			{
				sku = JsonString(index, "sku", &cv);
				has_sku = true;
			}
			else if (strcmp(key, "unit_price") == 0)
			{
				if (cv.type != jbvNumeric)
					BadChange(index, "unit_price must be a number", NULL);
				price = cv.val.numeric;
				has_price = true;
			}
			else if (strcmp(key, "code") == 0)
			{
				if (cv.type != jbvNull)
					code = JsonString(index, "code", &cv);
				has_code = true;
			}
			else
				BadChange(index, psprintf("unknown key \"%s\"", key),
						  "A change has op and, by op, line, qty, sku, unit_price or code.");
		}
		if (op == NULL)
			BadChange(index, "op is missing", NULL);

#define REQUIRE(cond, what) do { if (!(cond)) BadChange(index, psprintf("%s needs %s", op, what), NULL); } while (0)
#define REFUSE(cond, what) do { if (cond) BadChange(index, psprintf("%s takes no %s", op, what), NULL); } while (0)
		if (strcmp(op, "set_qty") == 0)
		{
			REQUIRE(has_line && has_qty, "line and qty");
			REFUSE(has_sku || has_price || has_code, "sku, unit_price or code");
			FindEditLine(e, index, line_no)->qty = qty;
		}
		else if (strcmp(op, "swap") == 0)
		{
			REQUIRE(has_line && has_sku, "line and sku");
			REFUSE(has_qty || has_price || has_code, "qty, unit_price or code");
			FindEditLine(e, index, line_no)->sku = sku;
		}
		else if (strcmp(op, "add") == 0)
		{
			EditLine   *l = &e->lines[e->nlines];

			REQUIRE(has_sku && has_qty && qty > 0, "sku and a qty from 1");
			REFUSE(has_line || has_price || has_code, "line, unit_price or code");
			l->line_no = next_line++;
			l->added = true;
			l->old_qty = 0;
			l->sku = sku;
			l->qty = qty;
			l->price = NULL;	/* the SKU's, in LoadSkus() */
			l->old_price = l->old_discount = om_num_int(0);
			e->nlines++;
		}
		else if (strcmp(op, "set_price") == 0)
		{
			EditLine   *l;

			REQUIRE(has_line && has_price, "line and unit_price");
			REFUSE(has_qty || has_sku || has_code, "qty, sku or code");
			CheckMaySetPrice(e, index);
			l = FindEditLine(e, index, line_no);
			if (!OM_NUMERIC_IS_FINITE(price) || om_num_cmp(price, om_num_int(0)) < 0 ||
				om_num_cmp(om_num_round(price, e->digits), price) != 0)
				BadChange(index, psprintf("unit_price must be an amount of %s from 0", e->currency),
						  psprintf("Got %s; %s has %d minor unit digits.", om_num_text(price),
								   e->currency, e->digits));
			om_check_amount_range(psprintf("changes[%d].unit_price", index), price);
			l->price = price;
			e->price_changed = true;
		}
		else if (strcmp(op, "promo") == 0)
		{
			REQUIRE(has_code, "code (a string, or null to remove the code)");
			REFUSE(has_line || has_qty || has_sku || has_price, "line, qty, sku or unit_price");
			e->promo_changed = true;
			e->new_code = code;
		}
		else
			BadChange(index, psprintf("unknown op \"%s\"", op), NULL);
#undef REQUIRE
#undef REFUSE
		index++;
	}
}

/*
 * Read the SKUs the edited lines hold: every SKU must exist (22023
 * otherwise), an added line takes its price, a swapped line must
 * stay within its product, and each line learns whether its stock is
 * tracked, with the SKU's buckets and queue.
 */
static void
LoadSkus(Edit *e)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTARRAYOID};
	Datum		values[2];
	Datum	   *skus = palloc(sizeof(Datum) * e->nlines * 2);
	int			nskus = 0;
	int			i;
	uint64		r;

	for (i = 0; i < e->nlines; i++)
	{
		skus[nskus++] = CStringGetTextDatum(e->lines[i].sku);
		if (e->lines[i].old_sku)
			skus[nskus++] = CStringGetTextDatum(e->lines[i].old_sku);
	}
	om_plan(&plan,
			"SELECT k.sku, k.price, k.product_id,"
			" coalesce(k.stock_buckets, s.stock_buckets), coalesce(k.admission_queue, s.admission_queue),"
			" NOT k.digital OR EXISTS (SELECT FROM order_mgmt.stock t WHERE t.shop_id = $1 AND t.sku = k.sku)"
			" FROM order_mgmt.sku k JOIN order_mgmt.shop s ON s.shop_id = k.shop_id"
			" WHERE k.shop_id = $1 AND s.shop_id = $1 AND k.sku = ANY ($2)",
			2, argtypes);
	values[0] = Int64GetDatum(e->o.shop_id);
	values[1] = om_text_array(skus, nskus);
	om_exec(plan, values, NULL, false, 0);

	for (i = 0; i < e->nlines; i++)
	{
		EditLine   *l = &e->lines[i];
		char	   *old_product = NULL;
		bool		found = false;

		for (r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	td = SPI_tuptable->tupdesc;
			bool		isnull;
			char	   *sku = OptText(tup, td, 1);

			if (l->old_sku && strcmp(sku, l->old_sku) == 0)
				old_product = OptText(tup, td, 3);
			if (strcmp(sku, l->sku) != 0)
				continue;
			found = true;
			if (l->price == NULL)
				l->price = DatumGetNumericCopy(SPI_getbinval(tup, td, 2, &isnull));
			l->product_id = OptText(tup, td, 3);
			l->buckets = DatumGetInt32(SPI_getbinval(tup, td, 4, &isnull));
			l->queue = DatumGetBool(SPI_getbinval(tup, td, 5, &isnull));
			l->tracked = DatumGetBool(SPI_getbinval(tup, td, 6, &isnull));
		}
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("sku \"%s\" does not exist", l->sku),
					 errdetail("Shop " INT64_FORMAT " has no such SKU.", e->o.shop_id)));
		if (l->old_sku && strcmp(l->old_sku, l->sku) != 0 &&
			(old_product == NULL || l->product_id == NULL || strcmp(old_product, l->product_id) != 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot swap line %d to sku \"%s\": it is not a variant of the same product",
							l->line_no, l->sku),
					 errdetail("Line %d is sku \"%s\" of product %s; sku \"%s\" is of product %s.",
							   l->line_no, l->old_sku, old_product ? old_product : "(none)",
							   l->sku, l->product_id ? l->product_id : "(none)"),
					 errhint("Set the line's qty to 0 and add the other SKU instead.")));
	}
}

/*
 * Price the edited lines with checkout's rule: amounts, the promo code's
 * discount spread over the lines (om_promo_discount), totals rounded to
 * the currency.  A code applied now is checked as at checkout
 * (om_promo_validate); a code kept must still reach its minimum subtotal
 * (OM002; a code limited to products judges its minimum, and that it
 * applies to a line at all, on the lines in its scope, in
 * om_promo_discount).  At least one line must keep a unit (22023: cancel instead).
 */
static void
Reprice(Edit *e, OmPromo *promo, bool *has_promo)
{
	Numeric		zero = om_num_int(0);
	OmPromoLine *pl = palloc(sizeof(OmPromoLine) * e->nlines);
	int		   *at = palloc(sizeof(int) * e->nlines);
	int			n = 0;
	int			i;
	char	   *key = NULL;

	e->subtotal = zero;
	for (i = 0; i < e->nlines; i++)
	{
		EditLine   *l = &e->lines[i];

		l->discount = zero;
		if (l->qty == 0)
			continue;
		pl[n].line_no = l->line_no;
		pl[n].sku = l->sku;
		pl[n].product_id = l->product_id;
		pl[n].amount = om_num_mul(l->price, om_num_int(l->qty));
		e->subtotal = om_num_add(e->subtotal, pl[n].amount);
		at[n++] = i;
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot edit order " INT64_FORMAT " to no units", e->o.order_id),
				 errdetail("Every line would have qty 0."),
				 errhint("Cancel the order instead (order_mgmt.cancel()).")));
	e->subtotal = om_num_round(e->subtotal, e->digits);
	om_check_amount_range("the order's subtotal", e->subtotal);

	*has_promo = false;
	if (e->promo_changed ? e->new_code != NULL : e->promo_key != NULL)
	{
		key = e->promo_changed ? om_normalize(e->new_code, true) : e->promo_key;
		if (key[0] == '\0' || !om_promo_lookup(e->o.shop_id, key, promo))
			ereport(ERROR,
					(errcode(ERRCODE_OM_PROMO_CODE_INVALID),
					 errmsg("promo code \"%s\" does not exist", e->promo_changed ? e->new_code : e->promo_code),
					 errdetail("Shop " INT64_FORMAT " has no code matching \"%s\".", e->o.shop_id, key)));
		if (e->promo_changed && e->promo_key && strcmp(key, e->promo_key) == 0)
			e->promo_changed = false;	/* the same code again: kept */
		if (e->promo_changed)
			om_promo_validate(promo, e->new_code, e->customer_id, e->email_key, e->subtotal);
		else if (!OM_PROMO_SCOPED(promo) && om_num_cmp(e->subtotal, promo->min_subtotal) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_OM_PROMO_CODE_INVALID),
					 errmsg("promo code \"%s\" needs a subtotal of at least %s", e->promo_code,
							om_num_text(promo->min_subtotal)),
					 errdetail("The edited subtotal would be %s.", om_num_text(e->subtotal)),
					 errhint("Remove the code in the same edit: {\"op\": \"promo\", \"code\": null}.")));
		*has_promo = true;
	}

	e->discount = zero;
	if (*has_promo)
	{
		e->discount = om_promo_discount(promo, pl, n, e->shipping_fee, e->digits);
		for (i = 0; i < n; i++)
			e->lines[at[i]].discount = pl[i].discount;
	}
	e->total = om_num_round(om_num_add(om_num_sub(e->subtotal, e->discount), e->shipping_fee),
							e->digits);
	om_check_amount_range("the order's total", e->total);
}

/*
 * The payment status the money supports after the edit (SPEC §6, the
 * guard and verify() judge the same): with net = paid - refunded and the
 * new amount due, more money than due is a refund owed (refunding), less
 * than due on an order that had paid is an amount due again (unpaid, no
 * deadline: the merchant collects the difference), and an order that owed
 * money and now owes none is paid.
 */
static int
DerivePayment(const Edit *e, Numeric new_due)
{
	const OmOrder *o = &e->o;
	Numeric		zero = om_num_int(0);
	Numeric		net = om_num_sub(o->paid_amount, o->refunded_amount);
	int			c = om_num_cmp(net, new_due);
	bool		settled = o->payment == PS_PAID || o->payment == PS_PARTIALLY_REFUNDED ||
		o->payment == PS_REFUNDING;

	if (c > 0 && om_num_cmp(net, zero) > 0)
		return PS_REFUNDING;
	if (c < 0)
		return settled ? PS_UNPAID : o->payment;
	/* net = due */
	if (o->payment == PS_REFUNDING || (!settled && om_num_cmp(net, zero) > 0))
		return om_num_cmp(o->refunded_amount, zero) > 0 ? PS_PARTIALLY_REFUNDED : PS_PAID;
	return o->payment;
}

/* The changed lines' rows, and the added ones after the last line. */
static void
WriteLines(const Edit *e)
{
	static SPIPlanPtr update_plan = NULL;
	static SPIPlanPtr insert_plan = NULL;
	static const Oid update_types[] = {INT8OID, INT8OID, INT4OID, TEXTOID, INT4OID, NUMERICOID, NUMERICOID};
	static const Oid insert_types[] = {INT8OID, INT8OID, INT4OID, TEXTOID, INT4OID, NUMERICOID, NUMERICOID};
	Datum		values[7];
	int			i;

	om_plan(&update_plan,
			"UPDATE order_mgmt.order_line SET sku = $4, qty = $5, unit_price = $6, discount = $7"
			" WHERE shop_id = $1 AND order_id = $2 AND line_no = $3",
			7, update_types);
	om_plan(&insert_plan,
			"INSERT INTO order_mgmt.order_line (shop_id, order_id, line_no, sku, qty, unit_price, discount)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7)",
			7, insert_types);
	values[0] = Int64GetDatum(e->o.shop_id);
	values[1] = Int64GetDatum(e->o.order_id);
	for (i = 0; i < e->nlines; i++)
	{
		const EditLine *l = &e->lines[i];

		if (!l->added && strcmp(l->sku, l->old_sku) == 0 && l->qty == l->old_qty &&
			om_num_cmp(l->price, l->old_price) == 0 && om_num_cmp(l->discount, l->old_discount) == 0)
			continue;
		values[2] = Int32GetDatum(l->line_no);
		values[3] = CStringGetTextDatum(l->sku);
		values[4] = Int32GetDatum(l->qty);
		values[5] = NumericGetDatum(l->price);
		values[6] = NumericGetDatum(l->discount);
		om_exec(l->added ? insert_plan : update_plan, values, NULL, false, 0);
	}
}

/* The order's new totals, code, credit and payment status: one UPDATE. */
static int64
WriteOrder(const Edit *e, Numeric credit, int payment)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_010 = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, NUMERICOID, NUMERICOID, NUMERICOID,
	TEXTOID, TEXTOID, TEXTOID, NUMERICOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	bool		credit_col = om_has_column("orders", "credit_applied");

#define WRITE_SQL(CREDIT) \
	"UPDATE order_mgmt.orders SET subtotal = $3, discount = $4, total = $5," \
	" promo_code = $6, promo_key = $7, payment_status = $8::order_mgmt.payment_status" CREDIT \
	" WHERE shop_id = $1 AND order_id = $2 RETURNING lock_version"

	values[0] = Int64GetDatum(e->o.shop_id);
	values[1] = Int64GetDatum(e->o.order_id);
	values[2] = NumericGetDatum(e->subtotal);
	values[3] = NumericGetDatum(e->discount);
	values[4] = NumericGetDatum(e->total);
	om_text_param(values, nulls, 5, e->promo_code);
	om_text_param(values, nulls, 6, e->promo_key);
	values[7] = CStringGetTextDatum(om_state_name(OM_MACHINE_PAYMENT, payment));
	values[8] = NumericGetDatum(credit);
	if (credit_col)
		om_exec_quiet(om_plan(&plan, WRITE_SQL(", credit_applied = $9"), 9, argtypes),
					  values, nulls, false, 0);
	else
		om_exec_quiet(om_plan(&plan_010, WRITE_SQL(""), 9, argtypes), values, nulls, false, 0);
#undef WRITE_SQL
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static int
CompareHold(const void *a, const void *b)
{
	return strcmp(((const OmHold *) a)->sku, ((const OmHold *) b)->sku);
}

/* The tracked units the edited lines need, per SKU, and the stock to match. */
static void
Rehold(const Edit *e, StringInfo released, StringInfo held)
{
	OmHold	   *target = palloc(sizeof(OmHold) * (e->nlines + 1));
	int			n = 0;
	int			i;
	int			j;

	for (i = 0; i < e->nlines; i++)
	{
		const EditLine *l = &e->lines[i];

		if (!l->tracked || l->qty == 0)
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(target[j].sku, l->sku) == 0)
				break;
		if (j == n)
		{
			target[n].sku = l->sku;
			target[n].qty = 0;
			target[n].buckets = l->buckets;
			target[n].queue = l->queue;
			target[n].auto_spread = false;	/* K as configured: see docs/reference.md */
			n++;
		}
		target[j].qty += l->qty;
	}
	qsort(target, n, sizeof(OmHold), CompareHold);
	om_rehold_stock(e->o.shop_id, e->o.order_id, target, n, released, held);
}

static void
JsonLine(StringInfo d, const char *sku, int32 qty, Numeric price, Numeric discount)
{
	appendStringInfoString(d, "{\"sku\": ");
	escape_json(d, sku);
	appendStringInfo(d, ", \"qty\": %d, \"unit_price\": %s, \"discount\": %s}",
					 qty, om_num_text(price), om_num_text(discount));
}


/*
 * One 'edit' event: the reason, every line that changed before and after,
 * the amounts, the promo code, the payment status, the stock moved and
 * the store credit given back.
 */
static void
WriteEvent(const Edit *e, const char *reason, Numeric old_subtotal, Numeric old_discount,
		   Numeric old_total, int old_payment, int payment, const char *old_code,
		   StringInfo released, StringInfo held, Numeric credit_back)
{
	StringInfoData d;
	bool		first = true;
	int			i;

	initStringInfo(&d);
	appendStringInfoString(&d, "{\"reason\": ");
	escape_json(&d, reason);
	appendStringInfoString(&d, ", \"lines\": [");
	for (i = 0; i < e->nlines; i++)
	{
		const EditLine *l = &e->lines[i];

		if (!l->added && strcmp(l->sku, l->old_sku) == 0 && l->qty == l->old_qty &&
			om_num_cmp(l->price, l->old_price) == 0 && om_num_cmp(l->discount, l->old_discount) == 0)
			continue;
		appendStringInfo(&d, "%s{\"line\": %d, \"before\": ", first ? "" : ", ", l->line_no);
		if (l->added)
			appendStringInfoString(&d, "null");
		else
			JsonLine(&d, l->old_sku, l->old_qty, l->old_price, l->old_discount);
		appendStringInfoString(&d, ", \"after\": ");
		JsonLine(&d, l->sku, l->qty, l->price, l->discount);
		appendStringInfoChar(&d, '}');
		first = false;
	}
	appendStringInfo(&d, "], \"subtotal\": [%s, %s], \"discount\": [%s, %s], \"total\": [%s, %s]",
					 om_num_text(old_subtotal), om_num_text(e->subtotal),
					 om_num_text(old_discount), om_num_text(e->discount),
					 om_num_text(old_total), om_num_text(e->total));
	om_json_text_field(&d, "promo_code_before", old_code);
	om_json_text_field(&d, "promo_code", e->promo_code);
	appendStringInfo(&d, ", \"payment_status\": [\"%s\", \"%s\"], \"released\": %s, \"held\": %s",
					 om_state_name(OM_MACHINE_PAYMENT, old_payment),
					 om_state_name(OM_MACHINE_PAYMENT, payment), released->data, held->data);
	if (om_num_cmp(credit_back, om_num_int(0)) > 0)
		appendStringInfo(&d, ", \"store_credit_returned\": %s", om_num_text(credit_back));
	appendStringInfo(&d, ", \"from_version\": " INT64_FORMAT "}", e->version);
	om_event_write(e->o.shop_id, e->o.order_id, "edit", NULL, NULL, d.data);
}
