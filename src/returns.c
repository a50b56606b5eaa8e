/*-------------------------------------------------------------------------
 *
 * returns.c
 *	  Returns and exchanges (SPEC §11, seed 001).
 *
 * A request takes back shipped units: request_return (full or partial) or
 * request_exchange (A for B: B's stock is held at once, or OM001).  It
 * moves requested -> approved | rejected | cancelled; approved -> received
 * | cancelled; received -> completed.  A plain return completes when
 * received; an exchange completes when its replacement ships
 * (ship_exchange commits the hold).  A rejected or cancelled exchange
 * releases its hold.  Received goods go back to on_hand when restocked,
 * and order_line.returned_qty never exceeds what was shipped (OM012).
 *
 * The order's delivery follows: returning while requests are open; when
 * none is, returned if every unit came back by plain returns, else arrived.
 * Refunds go through refund().  A received plain return gives back its
 * share of the store credit the order spent (store_credit.c), recorded on
 * the request: the money to refund is refund_amount - store_credit.
 *
 * Policy and the way back (SPEC §11, seeds 001 and 003): with the shop's
 * return_window set, a request is accepted while now < delivered_at +
 * return_window (an order not yet delivered has its whole window ahead);
 * later only with override => true from a member of order_mgmt_admin (the
 * merchant), never from the shop backend acting for the customer.  A
 * request records how the goods travel back (method, carrier,
 * tracking_no); set_return_tracking changes them later, with an event.
 *
 * Lock order: the order row (om_lock_order), then the request row, then
 * the customer's store credit balance, then stock rows (reservation.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"

#include "clock.h"
#include "compat.h"
#include "events.h"
#include "icu.h"
#include "lines.h"
#include "machines.h"
#include "money.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "order_lock.h"
#include "rls.h"
#include "spi_util.h"
#include "stock.h"
#include "store_credit.h"

typedef struct ReturnRow
{
	int64		shop_id;
	int64		return_id;
	int64		order_id;
	bool		exchange;
	char	   *state;
} ReturnRow;

/*
 * The error for a return id the shop does not have (22023, as for an
 * unknown SKU); detail, when not NULL, says why.
 */
pg_noreturn static void ReturnNotFound(int64 shop_id, int64 return_id, const char *detail);

static void
ReturnNotFound(int64 shop_id, int64 return_id, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("return " INT64_FORMAT " does not exist in shop " INT64_FORMAT, return_id, shop_id),
			 detail ? errdetail("%s", detail) : 0));
}

/*
 * Lock the request's order (applying its deadlines), then the request;
 * 22023 when the shop has no such request, also when it vanished while we
 * waited for the order.
 */
static void
LockReturn(int64 shop_id, int64 return_id, ReturnRow *r)
{
	static SPIPlanPtr find_plan = NULL;
	static SPIPlanPtr lock_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	Datum		values[2];
	bool		isnull;
	OmOrder		o;

	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(return_id);
	om_plan(&find_plan, "SELECT order_id FROM order_mgmt.return_request WHERE shop_id = $1 AND return_id = $2",
			2, argtypes);
	om_exec(find_plan, values, NULL, false, 1);
	if (SPI_processed == 0)
		ReturnNotFound(shop_id, return_id, NULL);
	r->order_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	om_lock_order(shop_id, r->order_id, &o);

	om_plan(&lock_plan,
			"SELECT kind = 'exchange', state::text FROM order_mgmt.return_request"
			" WHERE shop_id = $1 AND return_id = $2 FOR UPDATE",
			2, argtypes);
	om_exec(lock_plan, values, NULL, false, 1);
	/* deleted by hand (nothing forbids it) while we waited for its order */
	if (SPI_processed == 0)
		ReturnNotFound(shop_id, return_id,
					   psprintf("The request was deleted while this call waited for order " INT64_FORMAT ".",
								r->order_id));
	r->shop_id = shop_id;
	r->return_id = return_id;
	r->exchange = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	r->state = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
}

static void
RefuseState(const ReturnRow *r, const char *what, const char *allowed)
{
	ereport(ERROR,
			(errcode(ERRCODE_OM_RETURN_NOT_ALLOWED),
			 errmsg("cannot %s %s " INT64_FORMAT ": it is %s", what,
					r->exchange ? "exchange" : "return", r->return_id, r->state),
			 errdetail("Only %s requests can be %s.", allowed,
					   strcmp(what, "ship") == 0 ? "shipped" :
					   strcmp(what, "cancel") == 0 ? "cancelled" :
					   strcmp(what, "track") == 0 ? "tracked" : psprintf("%sd", what))));
}

static bool
StateIs(const ReturnRow *r, const char *a, const char *b)
{
	return strcmp(r->state, a) == 0 || (b && strcmp(r->state, b) == 0);
}

static void
SetState(const ReturnRow *r, const char *state, const char *note, bool restock)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, TEXTOID, BOOLOID, TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	om_plan(&plan,
			"UPDATE order_mgmt.return_request SET state = $3::order_mgmt.return_state,"
			" note = coalesce($4, note), restock = CASE WHEN $3 IN ('received', 'completed') AND restock IS NULL"
			"   THEN $5 ELSE restock END, updated_at = $6"
			" WHERE shop_id = $1 AND return_id = $2",
			6, argtypes);
	values[0] = Int64GetDatum(r->shop_id);
	values[1] = Int64GetDatum(r->return_id);
	values[2] = CStringGetTextDatum(state);
	if (note)
		values[3] = CStringGetTextDatum(note);
	else
		nulls[3] = 'n';
	values[4] = BoolGetDatum(restock);
	values[5] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, nulls, false, 0);
	om_event_write(r->shop_id, r->order_id, "return", r->state, state,
				   psprintf("{\"return_id\": " INT64_FORMAT ", \"kind\": \"%s\"}",
							r->return_id, r->exchange ? "exchange" : "return"));
}

/*
 * The order's delivery follows its requests: returning while any is open;
 * when none is, returned if every unit came back by plain returns, else
 * arrived.  One guarded UPDATE.
 */
static void
SyncDelivery(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	Datum		values[2];

	om_plan(&plan,
			"WITH st AS (SELECT"
			"   EXISTS (SELECT FROM order_mgmt.return_request r WHERE r.shop_id = $1 AND r.order_id = $2"
			"           AND r.state IN ('requested', 'approved', 'received')) AS open,"
			"   (SELECT coalesce(sum(rl.qty), 0) FROM order_mgmt.return_line rl"
			"      JOIN order_mgmt.return_request r ON r.shop_id = rl.shop_id AND r.return_id = rl.return_id"
			"     WHERE r.shop_id = $1 AND rl.shop_id = $1 AND r.order_id = $2 AND r.kind = 'return' AND r.state = 'completed') AS back,"
			"   (SELECT sum(qty) FROM order_mgmt.order_line WHERE shop_id = $1 AND order_id = $2) AS bought)"
			" UPDATE order_mgmt.orders o SET delivery_status ="
			"   CASE WHEN st.open THEN 'returning' WHEN st.back >= st.bought THEN 'returned' ELSE 'arrived' END"
			"   ::order_mgmt.delivery_status"
			" FROM st WHERE o.shop_id = $1 AND o.order_id = $2"
			"   AND ((st.open AND o.delivery_status IN ('shipped', 'arrived', 'collected'))"
			"        OR (NOT st.open AND o.delivery_status = 'returning'))",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	om_exec_quiet(plan, values, NULL, false, 0);
}

/*
 * The units of sku that went out in the order's packages: what shipped of
 * a partially shipped order (issue 17 item 9).  Once every line has
 * shipped, all of them did, packages or not (a plain UPDATE ships too).
 */
static int64
PackedUnits(int64 shop_id, int64 order_id, const char *sku)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID};
	bool		isnull;

	om_plan(&plan,
			"SELECT coalesce(sum(p.qty), 0)::int8 FROM order_mgmt.shipment_line p"
			" JOIN order_mgmt.order_line l ON l.shop_id = $1 AND l.order_id = p.order_id AND l.line_no = p.line_no"
			" WHERE p.shop_id = $1 AND p.order_id = $2 AND l.sku = $3",
			3, argtypes);
	om_exec(plan, (Datum[]) {Int64GetDatum(shop_id), Int64GetDatum(order_id), CStringGetTextDatum(sku)},
			NULL, true, 1);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Check that the order shipped and that each (sku, qty) can still come
 * back: shipped - returned - in open requests.  Returns the refund amount
 * of each line (paid per unit after discounts, times qty) in amounts[].
 */
static void
CheckReturnable(int64 shop_id, int64 order_id, OmLineQty *lines, int n, Numeric *amounts)
{
	static SPIPlanPtr order_plan = NULL;
	static SPIPlanPtr line_plan = NULL;
	static const Oid order_types[] = {INT8OID, INT8OID};
	static const Oid line_types[] = {INT8OID, INT8OID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	char	   *status;
	char	   *delivery;
	int			i;
	bool		partial;
	int			digits;

	om_plan(&order_plan,
			"SELECT status::text, delivery_status::text, currency FROM order_mgmt.orders"
			" WHERE shop_id = $1 AND order_id = $2",
			2, order_types);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	om_exec(order_plan, values, NULL, false, 1);
	status = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	delivery = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	digits = om_currency_digits(TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)));
	partial = om_state_by_name(OM_MACHINE_DELIVERY, delivery) == DS_PARTIALLY_SHIPPED;
	if (strcmp(status, "cancelled") == 0 ||
		om_delivery_pre_shipment(om_state_by_name(OM_MACHINE_DELIVERY, delivery)))
		ereport(ERROR,
				(errcode(ERRCODE_OM_RETURN_NOT_ALLOWED),
				 errmsg("cannot return goods of order " INT64_FORMAT ": it %s", order_id,
						strcmp(status, "cancelled") == 0 ? "is cancelled" : "has not shipped"),
				 errdetail("Its status is %s and its delivery %s; only shipped goods come back.",
						   status, delivery),
				 strcmp(status, "cancelled") == 0 ? 0 : errhint("Cancel the order instead.")));

	om_plan(&line_plan,
			"SELECT coalesce(sum(l.qty), 0)::int8, coalesce(sum(l.returned_qty), 0)::int8,"
			" (SELECT coalesce(sum(rl.qty), 0) FROM order_mgmt.return_line rl"
			"    JOIN order_mgmt.return_request r ON r.shop_id = rl.shop_id AND r.return_id = rl.return_id"
			"   WHERE r.shop_id = $1 AND rl.shop_id = $1 AND r.order_id = $2 AND rl.sku = $3"
			"     AND r.state IN ('requested', 'approved'))::int8,"
			" CASE WHEN sum(l.qty) > 0 THEN (sum(l.unit_price * l.qty) - sum(l.discount)) / sum(l.qty) END"
			" FROM order_mgmt.order_line l WHERE l.shop_id = $1 AND l.order_id = $2 AND l.sku = $3",
			3, line_types);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup;
		TupleDesc	td;
		int64		shipped;
		int64		returned;
		int64		open;

		values[2] = CStringGetTextDatum(lines[i].sku);
		om_exec(line_plan, values, NULL, false, 1);
		tup = SPI_tuptable->vals[0];
		td = SPI_tuptable->tupdesc;
		shipped = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		returned = DatumGetInt64(SPI_getbinval(tup, td, 2, &isnull));
		open = DatumGetInt64(SPI_getbinval(tup, td, 3, &isnull));
		if (partial)
			shipped = PackedUnits(shop_id, order_id, lines[i].sku);
		if (lines[i].qty > shipped - returned - open)
			ereport(ERROR,
					(errcode(ERRCODE_OM_RETURN_NOT_ALLOWED),
					 errmsg_plural("cannot return %d unit of sku \"%s\" from order " INT64_FORMAT,
								   "cannot return %d units of sku \"%s\" from order " INT64_FORMAT,
								   lines[i].qty, lines[i].qty, lines[i].sku, order_id),
					 errdetail("The order shipped " INT64_FORMAT ", " INT64_FORMAT " came back already and "
							   INT64_FORMAT " are in open requests: at most " INT64_FORMAT " can be returned.",
							   shipped, returned, open, Max(shipped - returned - open, 0))));
		amounts[i] = om_num_round(om_num_mul(DatumGetNumeric(SPI_getbinval(tup, td, 4, &isnull)),
											 om_num_int(lines[i].qty)), digits);
	}
}

/* Insert the request and its lines; returns the return_id. */
static int64
InsertRequest(int64 shop_id, int64 order_id, bool exchange, const char *reason,
			  OmLineQty *lines, int n, Numeric *amounts, const char *exchange_sku)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID, INT4ARRAYOID,
	NUMERICARRAYOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Datum	   *skus = palloc(sizeof(Datum) * n);
	Datum	   *qtys = palloc(sizeof(Datum) * n);
	Datum	   *amts = palloc(sizeof(Datum) * n);
	bool		isnull;
	int			i;

	for (i = 0; i < n; i++)
	{
		skus[i] = CStringGetTextDatum(lines[i].sku);
		qtys[i] = Int32GetDatum(lines[i].qty);
		amts[i] = NumericGetDatum(amounts[i]);
	}
	om_plan(&plan,
			"WITH r AS (INSERT INTO order_mgmt.return_request (shop_id, order_id, kind, reason,"
			"    refund_amount, created_at, updated_at)"
			"  SELECT $1, $2, $3::order_mgmt.return_kind, $4, (SELECT sum(a) FROM pg_catalog.unnest($7) a), $9, $9"
			"  RETURNING return_id),"
			" l AS (INSERT INTO order_mgmt.return_line (shop_id, return_id, line_no, sku, qty, exchange_sku, refund_amount)"
			"  SELECT $1, r.return_id, u.n, u.sku, u.qty, $8, u.amount FROM r,"
			"  ROWS FROM (pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7))"
			"    WITH ORDINALITY AS u(sku, qty, amount, n))"
			" SELECT return_id FROM r",
			9, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = CStringGetTextDatum(exchange ? "exchange" : "return");
	if (reason)
		values[3] = CStringGetTextDatum(reason);
	else
		nulls[3] = 'n';
	values[4] = PointerGetDatum(construct_array(skus, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[5] = PointerGetDatum(construct_array(qtys, n, INT4OID, 4, true, TYPALIGN_INT));
	values[6] = PointerGetDatum(construct_array(amts, n, NUMERICOID, -1, false, TYPALIGN_INT));
	if (exchange_sku)
		values[7] = CStringGetTextDatum(exchange_sku);
	else
		nulls[7] = 'n';
	values[8] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, nulls, false, 0);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* How the goods travel back: each NULL when not given. */
typedef struct WayBack
{
	char	   *method;
	char	   *carrier;
	char	   *tracking_no;
} WayBack;

/* The way back from the arguments at these positions (NULL: not given). */
static void
WayBackArgs(FunctionCallInfo fcinfo, int method_arg, int carrier_arg, int tracking_arg, WayBack *way)
{
	way->method = PG_ARGISNULL(method_arg) ? NULL :
		DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(method_arg)));
	way->carrier = PG_ARGISNULL(carrier_arg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(carrier_arg));
	way->tracking_no = PG_ARGISNULL(tracking_arg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(tracking_arg));
}

/*
 * The request's tail arguments from argument n on: override, method,
 * carrier, tracking_no (absent when a 0.1.0 declaration calls us).
 * Returns override.  Only a member of order_mgmt_admin (or a superuser)
 * may override the return window: the shop backend, order_mgmt_app, acts
 * for customers, and the window is the shop's promise to them.  Raises
 * 42501 otherwise, before anything is read.
 */
static bool
RequestTail(FunctionCallInfo fcinfo, int n, WayBack *way)
{
	bool		override = false;
	Oid			admin;

	memset(way, 0, sizeof(WayBack));
	if (PG_NARGS() <= n)
		return false;
	OM_ARG_NOT_NULL(n, "override");
	override = PG_GETARG_BOOL(n);
	WayBackArgs(fcinfo, n + 1, n + 2, n + 3, way);

	admin = get_role_oid("order_mgmt_admin", true);
	if (override && !superuser_arg(GetOuterUserId()) &&
		!(OidIsValid(admin) && has_privs_of_role(GetOuterUserId(), admin)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the merchant may override the return window"),
				 errdetail("override => true needs the privileges of order_mgmt_admin; role \"%s\" does not have them.",
						   GetUserNameFromId(GetOuterUserId(), false)),
				 errhint("Leave override false, or accept the return as a member of order_mgmt_admin.")));
	return override;
}

/*
 * The shop's return window (SPEC §11): a request is in time while now <
 * delivered_at + return_window; an order not yet delivered, or a shop
 * without a window, is always in time.  Outside it, raises OM012 unless
 * override; returns whether the request came after the window.
 */
static bool
CheckWindow(int64 shop_id, int64 order_id, bool override)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		values[3];
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	td;

	if (!om_has_column("shop", "return_window"))
		return false;			/* a 0.1.0 schema: no window */
	om_plan(&plan,
			"SELECT o.delivered_at + s.return_window <= $3, o.delivered_at::text,"
			" s.return_window::text, (o.delivered_at + s.return_window)::text, $3::text"
			" FROM order_mgmt.orders o JOIN order_mgmt.shop s ON s.shop_id = o.shop_id"
			" WHERE o.shop_id = $1 AND s.shop_id = $1 AND o.order_id = $2",
			3, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, NULL, true, 1);
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	if (!DatumGetBool(SPI_getbinval(tup, td, 1, &isnull)) || isnull)
		return false;
	if (!override)
		ereport(ERROR,
				(errcode(ERRCODE_OM_RETURN_NOT_ALLOWED),
				 errmsg("cannot return goods of order " INT64_FORMAT ": its return window has passed", order_id),
				 errdetail("It was delivered at %s and the shop's return window is %s, so requests ended at %s; it is now %s.",
						   SPI_getvalue(tup, td, 2), SPI_getvalue(tup, td, 3),
						   SPI_getvalue(tup, td, 4), SPI_getvalue(tup, td, 5)),
				 errhint("The merchant may accept it anyway with override => true.")));
	return true;
}

/* Append ", key: value" to a JSON object being built, value escaped (NULL: nothing). */
static void
JsonField(StringInfo buf, const char *key, const char *value)
{
	if (value == NULL)
		return;
	appendStringInfo(buf, ", \"%s\": ", key);
	escape_json(buf, value);
}

/* "method": .., "carrier": .., "tracking_no": .. (JSON null when not known). */
static void
WayBackJson(StringInfo buf, const WayBack *way)
{
	const char *keys[] = {"method", "carrier", "tracking_no"};
	const char *vals[] = {way->method, way->carrier, way->tracking_no};
	int			i;

	for (i = 0; i < lengthof(keys); i++)
	{
		appendStringInfo(buf, "%s\"%s\": ", i > 0 ? ", " : "", keys[i]);
		if (vals[i])
			escape_json(buf, vals[i]);
		else
			appendStringInfoString(buf, "null");
	}
}

/*
 * Record the way back on the request: each non-NULL part replaces the
 * stored one.  Returns whether anything changed.  Raises 55000 on a 0.1.0
 * schema, which has no such columns.
 */
static bool
SetWayBack(int64 shop_id, int64 return_id, const WayBack *way)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[6] = {INT8OID, INT8OID, InvalidOid, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	if (!way->method && !way->carrier && !way->tracking_no)
		return false;
	om_require_column("return_request", "tracking_no", "a return's way back");
	/* $3 is of the enum type (om_plan(): Citus and COALESCE) */
	argtypes[2] = om_type_oid("return_method");
	om_plan(&plan,
			"UPDATE order_mgmt.return_request"
			" SET method = coalesce($3, method),"
			"   carrier = coalesce($4, carrier), tracking_no = coalesce($5, tracking_no), updated_at = $6"
			" WHERE shop_id = $1 AND return_id = $2"
			"   AND (method, carrier, tracking_no) IS DISTINCT FROM"
			"       (coalesce($3, method), coalesce($4, carrier), coalesce($5, tracking_no))",
			6, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(return_id);
	om_enum_param(plan, values, nulls, 2, way->method);
	om_text_param(values, nulls, 3, way->carrier);
	om_text_param(values, nulls, 4, way->tracking_no);
	values[5] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, nulls, false, 0);
	return SPI_processed > 0;
}

/* The return event of a request: its kind, the way back, an override. */
static void
RequestEvent(int64 shop_id, int64 order_id, int64 return_id, bool exchange,
			 const WayBack *way, bool late)
{
	StringInfoData d;

	initStringInfo(&d);
	appendStringInfo(&d, "{\"return_id\": " INT64_FORMAT ", \"kind\": \"%s\"",
					 return_id, exchange ? "exchange" : "return");
	JsonField(&d, "method", way->method);
	JsonField(&d, "carrier", way->carrier);
	JsonField(&d, "tracking_no", way->tracking_no);
	if (late)
		appendStringInfoString(&d, ", \"override\": \"after the return window\"");
	appendStringInfoChar(&d, '}');
	om_event_write(shop_id, order_id, "return", NULL, "requested", d.data);
}

/*
 * request_return(shop_id, order_id, lines, reason, override, method,
 *				  carrier, tracking_no) -> return_id
 */
PG_FUNCTION_INFO_V1(om_request_return);
Datum
om_request_return(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	int64		order_id;
	OmLineQty  *lines;
	int			n;
	Numeric    *amounts;
	OmOrder		o;
	int64		return_id;
	WayBack		way;
	bool		override;
	bool		late;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	OM_ARG_NOT_NULL(2, "lines");
	shop_id = PG_GETARG_INT64(0);
	order_id = PG_GETARG_INT64(1);
	lines = om_parse_lines(PG_GETARG_JSONB_P(2), &n);
	amounts = palloc(sizeof(Numeric) * n);
	override = RequestTail(fcinfo, 4, &way);

	om_enter_order(shop_id, order_id, &o);
	CheckReturnable(shop_id, order_id, lines, n, amounts);
	late = CheckWindow(shop_id, order_id, override);
	return_id = InsertRequest(shop_id, order_id, false,
							  PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
							  lines, n, amounts, NULL);
	(void) SetWayBack(shop_id, return_id, &way);
	RequestEvent(shop_id, order_id, return_id, false, &way, late);
	SyncDelivery(shop_id, order_id);
	SPI_finish();
	PG_RETURN_INT64(return_id);
}

/*
 * request_exchange(shop_id, order_id, from_sku, to_sku, qty, override,
 *					method, carrier, tracking_no) -> return_id
 */
PG_FUNCTION_INFO_V1(om_request_exchange);
Datum
om_request_exchange(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr sku_plan = NULL;
	static const Oid sku_types[] = {INT8OID, TEXTOID};
	int64		shop_id;
	int64		order_id;
	OmLineQty	line;
	char	   *to_sku;
	Numeric		amount;
	OmOrder		o;
	int64		return_id;
	OmHold		hold;
	Datum		values[2];
	bool		isnull;
	StringInfoData holds;
	WayBack		way;
	bool		override;
	bool		late;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	OM_ARG_NOT_NULL(2, "from_sku");
	OM_ARG_NOT_NULL(3, "to_sku");
	OM_ARG_NOT_NULL(4, "qty");
	shop_id = PG_GETARG_INT64(0);
	order_id = PG_GETARG_INT64(1);
	line.sku = text_to_cstring(PG_GETARG_TEXT_PP(2));
	to_sku = text_to_cstring(PG_GETARG_TEXT_PP(3));
	line.qty = PG_GETARG_INT32(4);
	if (line.qty < 1 || line.qty > OM_MAX_QTY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("qty must be a whole number from 1 to %d", OM_MAX_QTY),
				 errdetail("Got %d.", line.qty)));
	om_check_identifier("from_sku", line.sku);
	om_check_identifier("to_sku", to_sku);
	override = RequestTail(fcinfo, 5, &way);

	om_enter_order(shop_id, order_id, &o);
	CheckReturnable(shop_id, order_id, &line, 1, &amount);
	late = CheckWindow(shop_id, order_id, override);

	/* the replacement: a known SKU, its stock held at once */
	om_plan(&sku_plan,
			"SELECT coalesce(k.stock_buckets, s.stock_buckets), coalesce(k.admission_queue, s.admission_queue),"
			" NOT k.digital OR EXISTS (SELECT FROM order_mgmt.stock t WHERE t.shop_id = $1 AND t.sku = k.sku)"
			" FROM order_mgmt.sku k JOIN order_mgmt.shop s ON s.shop_id = k.shop_id"
			" WHERE k.shop_id = $1 AND k.sku = $2",
			2, sku_types);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(to_sku);
	om_exec(sku_plan, values, NULL, false, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown sku \"%s\"", to_sku),
				 errdetail("Shop " INT64_FORMAT " has no SKU \"%s\" to exchange for.", shop_id, to_sku)));
	hold.sku = to_sku;
	hold.qty = line.qty;
	hold.buckets = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	hold.queue = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	hold.auto_spread = false;	/* K as configured: see docs/reference.md */
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)))
		hold.qty = 0;			/* an untracked digital SKU: nothing to hold */

	return_id = InsertRequest(shop_id, order_id, true, NULL, &line, 1, &amount, to_sku);
	initStringInfo(&holds);
	appendStringInfo(&holds, "{\"return_id\": " INT64_FORMAT ", \"holds\": [", return_id);
	if (hold.qty > 0)
		om_hold_stock(shop_id, order_id, return_id, &hold, 1, &holds);
	appendStringInfoString(&holds, "]}");
	(void) SetWayBack(shop_id, return_id, &way);
	RequestEvent(shop_id, order_id, return_id, true, &way, late);
	om_event_write(shop_id, order_id, "reserve", NULL, NULL, holds.data);
	SyncDelivery(shop_id, order_id);
	SPI_finish();
	PG_RETURN_INT64(return_id);
}

static void
EnterReturn(FunctionCallInfo fcinfo, ReturnRow *r)
{
	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "return_id");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	LockReturn(PG_GETARG_INT64(0), PG_GETARG_INT64(1), r);
}

/* approve_return(shop_id, return_id) -> void */
PG_FUNCTION_INFO_V1(om_approve_return);
Datum
om_approve_return(PG_FUNCTION_ARGS)
{
	ReturnRow	r;

	EnterReturn(fcinfo, &r);
	if (!StateIs(&r, "requested", NULL))
		RefuseState(&r, "approve", "requested");
	SetState(&r, "approved", NULL, false);
	SPI_finish();
	PG_RETURN_VOID();
}

/* reject_return(shop_id, return_id, note) and cancel_return(shop_id, return_id) */
static Datum
CloseUnfinished(FunctionCallInfo fcinfo, bool reject)
{
	ReturnRow	r;

	EnterReturn(fcinfo, &r);
	if (reject ? !StateIs(&r, "requested", NULL) : !StateIs(&r, "requested", "approved"))
		RefuseState(&r, reject ? "reject" : "cancel", reject ? "requested" : "requested and approved");
	SetState(&r, reject ? "rejected" : "cancelled",
			 reject && !PG_ARGISNULL(2) ? text_to_cstring(PG_GETARG_TEXT_PP(2)) : NULL, false);
	if (r.exchange)
		om_release_return_stock(r.shop_id, r.order_id, r.return_id);
	SyncDelivery(r.shop_id, r.order_id);
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(om_reject_return);
Datum
om_reject_return(PG_FUNCTION_ARGS)
{
	return CloseUnfinished(fcinfo, true);
}

PG_FUNCTION_INFO_V1(om_cancel_return);
Datum
om_cancel_return(PG_FUNCTION_ARGS)
{
	return CloseUnfinished(fcinfo, false);
}

/*
 * receive_return(shop_id, return_id, restock) -> void
 *
 * The goods are back: returned_qty grows on the order's lines, restocked
 * units go back to on_hand, a plain return is completed.
 */
PG_FUNCTION_INFO_V1(om_receive_return);
Datum
om_receive_return(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr lines_plan = NULL;
	static SPIPlanPtr restock_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, INT8OID};
	ReturnRow	r;
	bool		restock;
	Datum		values[3];

	OM_SHOP_ARG(0);			/* before the other arguments are judged */
	OM_ARG_NOT_NULL(2, "restock");
	restock = PG_GETARG_BOOL(2);
	EnterReturn(fcinfo, &r);
	if (!StateIs(&r, "approved", NULL))
		RefuseState(&r, "receive", "approved");

	/*
	 * returned_qty, filling the order's lines of each SKU in line order.
	 * The CTEs carry shop_id and are joined on it: Citus plans an UPDATE
	 * joined to subqueries only when they join on the distribution column.
	 */
	om_plan(&lines_plan,
			"WITH want AS (SELECT shop_id, sku, sum(qty) AS qty FROM order_mgmt.return_line"
			"    WHERE shop_id = $1 AND return_id = $2 GROUP BY shop_id, sku),"
			" cap AS (SELECT l.shop_id, l.line_no, l.sku, l.qty - l.returned_qty AS free,"
			"    coalesce(sum(l.qty - l.returned_qty) OVER (PARTITION BY l.sku ORDER BY l.line_no"
			"      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before"
			"    FROM order_mgmt.order_line l WHERE l.shop_id = $1 AND l.order_id = $3)"
			" UPDATE order_mgmt.order_line l"
			" SET returned_qty = l.returned_qty + least(c.free, w.qty - c.before)"
			" FROM cap c JOIN want w ON w.shop_id = c.shop_id AND w.sku = c.sku"
			" WHERE l.shop_id = $1 AND l.order_id = $3 AND c.shop_id = l.shop_id"
			"   AND l.line_no = c.line_no AND w.qty > c.before",
			3, argtypes);
	values[0] = Int64GetDatum(r.shop_id);
	values[1] = Int64GetDatum(r.return_id);
	values[2] = Int64GetDatum(r.order_id);
	om_exec(lines_plan, values, NULL, false, 0);

	/* a plain return gives back its share of the store credit, before stock rows */
	if (!r.exchange)
		om_credit_for_return(r.shop_id, r.order_id, r.return_id);

	if (restock)
	{
		static SPIPlanPtr skus_plan = NULL;
		static const Oid stock_types[] = {INT8OID, TEXTOID, INT4OID};
		SPITupleTable *tt;
		uint64		n;
		uint64		i;

		/* back on the shelf, bucket 0 of each SKU, one SKU at a time in lock order */
		om_plan(&skus_plan,
				"SELECT sku, sum(qty)::int4 FROM order_mgmt.return_line"
				" WHERE shop_id = $1 AND return_id = $2 GROUP BY sku ORDER BY sku COLLATE \"C\"",
				3, argtypes);
		om_exec(skus_plan, values, NULL, false, 0);
		tt = SPI_tuptable;
		n = SPI_processed;
		om_plan(&restock_plan,
				"UPDATE order_mgmt.stock SET on_hand = on_hand + $3"
				" WHERE shop_id = $1 AND sku = $2 AND bucket = 0",
				3, stock_types);
		for (i = 0; i < n; i++)
		{
			bool		isnull;
			Datum		stock_values[3];

			stock_values[0] = Int64GetDatum(r.shop_id);
			stock_values[1] = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);
			stock_values[2] = SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull);
			om_exec(restock_plan, stock_values, NULL, false, 0);
		}
	}

	SetState(&r, "received", NULL, restock);
	if (!r.exchange)
	{
		r.state = "received";
		SetState(&r, "completed", NULL, restock);
		SyncDelivery(r.shop_id, r.order_id);
		om_credit_order_returned(r.shop_id, r.order_id);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * ship_exchange(shop_id, return_id, carrier, tracking_no) -> shipment_id
 *
 * The replacement leaves: its hold is committed and the exchange is
 * completed.  It does not move the order's own delivery status, except to
 * end the returning phase when no other request is open.
 */
PG_FUNCTION_INFO_V1(om_ship_exchange);
Datum
om_ship_exchange(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	ReturnRow	r;
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int64		shipment_id;

	EnterReturn(fcinfo, &r);
	if (!r.exchange)
		ereport(ERROR,
				(errcode(ERRCODE_OM_RETURN_NOT_ALLOWED),
				 errmsg("cannot ship return " INT64_FORMAT ": it is not an exchange", r.return_id)));
	if (!StateIs(&r, "approved", "received"))
		RefuseState(&r, "ship", "approved and received");

	om_commit_return_stock(r.shop_id, r.order_id, r.return_id);
	om_plan(&plan,
			"INSERT INTO order_mgmt.shipment (shop_id, order_id, return_id, carrier, tracking_no, status,"
			" created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'shipped', $6, $6) RETURNING shipment_id",
			6, argtypes);
	values[0] = Int64GetDatum(r.shop_id);
	values[1] = Int64GetDatum(r.order_id);
	values[2] = Int64GetDatum(r.return_id);
	values[3] = PG_ARGISNULL(2) ? (nulls[3] = 'n', (Datum) 0) : PG_GETARG_DATUM(2);
	values[4] = PG_ARGISNULL(3) ? (nulls[4] = 'n', (Datum) 0) : PG_GETARG_DATUM(3);
	values[5] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, nulls, false, 0);
	shipment_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	SetState(&r, "completed", NULL, false);
	SyncDelivery(r.shop_id, r.order_id);
	SPI_finish();
	PG_RETURN_INT64(shipment_id);
}

/*
 * credit_note(shop_id, return_id) -> void: an invoice allowance / credit
 * note is owed for this return (SPEC §11).
 */
PG_FUNCTION_INFO_V1(om_credit_note);
Datum
om_credit_note(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	ReturnRow	r;
	Datum		values[2];

	EnterReturn(fcinfo, &r);
	om_plan(&plan,
			"UPDATE order_mgmt.return_request SET credit_note = true"
			" WHERE shop_id = $1 AND return_id = $2 AND NOT credit_note",
			2, argtypes);
	values[0] = Int64GetDatum(r.shop_id);
	values[1] = Int64GetDatum(r.return_id);
	om_exec(plan, values, NULL, false, 0);
	if (SPI_processed > 0)
		om_event_write(r.shop_id, r.order_id, "return", NULL, NULL,
					   psprintf("{\"return_id\": " INT64_FORMAT ", \"credit_note\": true}", r.return_id));
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * set_return_tracking(shop_id, return_id, carrier, tracking_no, method)
 *	-> void
 *
 * The way back of a request still on its way (requested or approved), as
 * the customer or the carrier reports it (seed 001's 7-11 C2B code): each
 * non-NULL argument replaces what was recorded, and a change writes a
 * return event with the new values and the ones they replaced.
 */
PG_FUNCTION_INFO_V1(om_set_return_tracking);
Datum
om_set_return_tracking(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr was_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	ReturnRow	r;
	WayBack		way;
	Datum		values[2];
	char	   *was_method;
	char	   *was_carrier;
	char	   *was_tracking;
	StringInfoData d;

	WayBackArgs(fcinfo, 4, 2, 3, &way);
	EnterReturn(fcinfo, &r);
	if (!StateIs(&r, "requested", "approved"))
		RefuseState(&r, "track", "requested and approved");
	om_require_column("return_request", "tracking_no", "a return's way back");

	om_plan(&was_plan,
			"SELECT method::text, carrier, tracking_no FROM order_mgmt.return_request"
			" WHERE shop_id = $1 AND return_id = $2",
			2, argtypes);
	values[0] = Int64GetDatum(r.shop_id);
	values[1] = Int64GetDatum(r.return_id);
	om_exec(was_plan, values, NULL, false, 1);
	was_method = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	was_carrier = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	was_tracking = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);

	if (SetWayBack(r.shop_id, r.return_id, &way))
	{
		WayBack		was = {was_method, was_carrier, was_tracking};
		WayBack		now = {way.method ? way.method : was_method,
			way.carrier ? way.carrier : was_carrier,
		way.tracking_no ? way.tracking_no : was_tracking};

		initStringInfo(&d);
		appendStringInfo(&d, "{\"return_id\": " INT64_FORMAT ", ", r.return_id);
		WayBackJson(&d, &now);
		appendStringInfoString(&d, ", \"previous\": {");
		WayBackJson(&d, &was);
		appendStringInfoString(&d, "}}");
		om_event_write(r.shop_id, r.order_id, "return", NULL, NULL, d.data);
	}
	SPI_finish();
	PG_RETURN_VOID();
}
