/*-------------------------------------------------------------------------
 *
 * shipment.c
 *	  Packages (SPEC §10, issue 17 item 9, seeds 001 and 004): ship,
 *	  ship_package, set_delivery_status, set_shipment_status, set_tracking.
 *
 * An order ships in one or more packages, each a row of order_mgmt.shipment
 * with its lines (order_mgmt.shipment_line: which units of which order
 * line), carrier, tracking number, expected delivery date and times.  The
 * order's delivery status follows its packages:
 *
 *	- a package of some of the lines moves it to partially_shipped, and
 *	  commits those lines' held stock here (reservation.c); the rest stays
 *	  held;
 *	- the package of the last lines moves it on to the slowest of its
 *	  packages' states (shipped for standard logistics, shipping for
 *	  integrated and cod), and the effects trigger commits what is still
 *	  held, as for a single package;
 *	- once every line has shipped, a package's own progress
 *	  (set_shipment_status) moves the order to the slowest package's state
 *	  (shipping < shipped < arrived < collected);
 *	- set_delivery_status moves the whole order: unshipped lines go out in
 *	  one package in that state, and every package behind it catches up.
 *	  Returns (returning, returned) are the order's, not its packages'.
 *
 * The guard judges every order move (only these functions may move an
 * order to partially_shipped); a package's move is judged here by the
 * same delivery machine.  A package's creation and status moves are
 * 'shipment' events, every change of its carrier or tracking number a
 * 'tracking' event with the old and new values.
 *
 * On a 0.1.0 schema (the library updated, the extension not yet) ship and
 * set_delivery_status keep 0.1.0's behaviour: one shipment per order, no
 * lines, no events of their own; the other functions ask for ALTER
 * EXTENSION UPDATE (55000).
 *
 * Lock order: the order row (om_lock_order), then its shipments, then
 * stock rows (reservation.c).  Two calls for one order queue on its row,
 * so the second sees the first's packages and ships only what is left.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "clock.h"
#include "compat.h"
#include "events.h"
#include "lines.h"
#include "machines.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "order_lock.h"
#include "rls.h"
#include "spi_util.h"
#include "stock.h"

#define PACKAGE_STATES_SQL "('shipping', 'shipped', 'arrived', 'collected')"

/* A package's carrier, tracking number and expected delivery (NULL: none). */
typedef struct Parcel
{
	char	   *carrier;
	char	   *tracking_no;
	char	   *expected;		/* date as text */
} Parcel;

static char *
OptText(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* A date argument as ISO text (YYYY-MM-DD, whatever DateStyle says), or NULL. */
static char *
OptDate(FunctionCallInfo fcinfo, int n)
{
	DateADT		d;
	int			year;
	int			month;
	int			day;

	if (PG_ARGISNULL(n))
		return NULL;
	d = PG_GETARG_DATEADT(n);
	if (!DATE_NOT_FINITE(d))
		j2date(d + POSTGRES_EPOCH_JDATE, &year, &month, &day);
	if (DATE_NOT_FINITE(d) || year < 1 || year > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected_delivery must be a date between the years 1 and 9999")));
	return psprintf("%04d-%02d-%02d", year, month, day);
}

static void
RefuseArchived(const OmOrder *o, const char *what)
{
	if (o->archived)
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_ARCHIVED),
				 errmsg("order " INT64_FORMAT " is archived", o->order_id),
				 errdetail("Archived orders refuse changes other than notes and unarchiving; %s was to change.", what),
				 errhint("Unarchive it first with order_mgmt.unarchive().")));
}

static void
TextParam(Datum *values, char *nulls, int i, const char *s)
{
	if (s)
		values[i] = CStringGetTextDatum(s);
	else
		nulls[i] = 'n';
}

/* The schema has packages (0.2.0): else ship and set_delivery_status act as 0.1.0 did. */
static bool
HasPackages(void)
{
	return om_has_column("shipment", "expected_delivery");
}

static void
EnterOrder(FunctionCallInfo fcinfo, OmOrder *o)
{
	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	om_enter_order(PG_GETARG_INT64(0), PG_GETARG_INT64(1), o);
}

/* One guarded UPDATE of the order's delivery status. */
static void
MoveOrder(const OmOrder *o, int to)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID};

	om_plan(&plan,
			"UPDATE order_mgmt.orders SET delivery_status = $3::order_mgmt.delivery_status"
			" WHERE shop_id = $1 AND order_id = $2",
			3, argtypes);
	om_exec_quiet(plan, (Datum[]) {Int64GetDatum(o->shop_id), Int64GetDatum(o->order_id),
				  CStringGetTextDatum(om_state_name(OM_MACHINE_DELIVERY, to))}, NULL, false, 0);
}

/*
 * Every line has shipped: the order's delivery is its slowest package's
 * (one guarded UPDATE, none when it is there already).
 */
static void
DeriveDelivery(const OmOrder *o)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};

	om_plan(&plan,
			"UPDATE order_mgmt.orders o SET delivery_status = d.slowest"
			" FROM (SELECT min(s.status) AS slowest FROM order_mgmt.shipment s"
			"   WHERE s.shop_id = $1 AND s.order_id = $2 AND s.return_id IS NULL"
			"     AND s.status IN " PACKAGE_STATES_SQL ") d"
			" WHERE o.shop_id = $1 AND o.order_id = $2 AND o.delivery_status <> d.slowest",
			2, argtypes);
	om_exec_quiet(plan, (Datum[]) {Int64GetDatum(o->shop_id), Int64GetDatum(o->order_id)},
				  NULL, false, 0);
}


/*
 * Check a package's lines against what the order has left to ship, per
 * SKU: an SKU the order does not have is 22023, more units than are left
 * OM013.  Returns the units the order has left after this package.
 */
static int64
CheckPackageLines(const OmOrder *o, const OmLineQty *lines, int n)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTARRAYOID, INT4ARRAYOID};
	Datum	   *skus = palloc(sizeof(Datum) * n);
	Datum	   *qtys = palloc(sizeof(Datum) * n);
	int64		left = 0;
	int64		packed = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		skus[i] = CStringGetTextDatum(lines[i].sku);
		qtys[i] = Int32GetDatum(lines[i].qty);
		packed += lines[i].qty;
	}
	om_plan(&plan,
			"WITH l AS (SELECT l.sku, l.qty - coalesce(p.shipped, 0) AS open"
			"   FROM order_mgmt.order_line l"
			"   LEFT JOIN (SELECT line_no, sum(qty) AS shipped FROM order_mgmt.shipment_line"
			"              WHERE shop_id = $1 AND order_id = $2 GROUP BY line_no) p ON p.line_no = l.line_no"
			"   WHERE l.shop_id = $1 AND l.order_id = $2)"
			" SELECT u.sku, u.qty, (SELECT count(*) FROM l WHERE l.sku = u.sku),"
			"   (SELECT coalesce(sum(open), 0) FROM l WHERE l.sku = u.sku)::int8,"
			"   (SELECT coalesce(sum(open), 0) FROM l)::int8"
			" FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::int4[])) AS u(sku, qty)",
			4, argtypes);
	om_exec(plan, (Datum[]) {Int64GetDatum(o->shop_id), Int64GetDatum(o->order_id),
			om_text_array(skus, n), om_int4_array(qtys, n)}, NULL, false, 0);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *sku = TextDatumGetCString(SPI_getbinval(tup, td, 1, &isnull));
		int32		qty = DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
		int64		nlines = DatumGetInt64(SPI_getbinval(tup, td, 3, &isnull));
		int64		open = DatumGetInt64(SPI_getbinval(tup, td, 4, &isnull));

		left = DatumGetInt64(SPI_getbinval(tup, td, 5, &isnull));
		if (nlines == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("order " INT64_FORMAT " has no sku \"%s\"", o->order_id, sku),
					 errdetail("A package holds units of the order's own lines.")));
		if (qty > open)
			ereport(ERROR,
					(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
					 errmsg_plural("cannot ship %d unit of sku \"%s\" of order " INT64_FORMAT,
								   "cannot ship %d units of sku \"%s\" of order " INT64_FORMAT,
								   qty, qty, sku, o->order_id),
					 errdetail("The order has " INT64_FORMAT " left to ship of it; the others are in earlier packages.",
							   open),
					 errhint("See order_mgmt.shipment_line for what each package holds.")));
	}
	return left - packed;
}

/*
 * Insert a package of the order in state status: lines (n of them) or,
 * when lines is NULL, every unit not shipped yet, taken from the order's
 * lines in line_no order.  Writes its 'shipment' event; returns its id.
 */
static int64
InsertPackage(const OmOrder *o, int status, const OmLineQty *lines, int n, const Parcel *parcel)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TIMESTAMPTZOID, TEXTARRAYOID, INT4ARRAYOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	const char *state = om_state_name(OM_MACHINE_DELIVERY, status);
	StringInfoData detail;
	int64		shipment_id;
	bool		isnull;
	int			i;

	om_plan(&plan,
			"WITH s AS (INSERT INTO order_mgmt.shipment (shop_id, order_id, status, carrier, tracking_no,"
			"    created_at, updated_at, expected_delivery, delivered_at)"
			"   VALUES ($1, $2, $3::order_mgmt.delivery_status, $4, $5, $7, $7, $6::date,"
			"    CASE WHEN $3 IN ('arrived', 'collected') THEN $7 END) RETURNING shipment_id),"
			" open AS (SELECT l.line_no, l.sku, l.qty - coalesce(p.shipped, 0) AS open,"
			"    sum(l.qty - coalesce(p.shipped, 0)) OVER (PARTITION BY l.sku ORDER BY l.line_no) AS upto"
			"   FROM order_mgmt.order_line l"
			"   LEFT JOIN (SELECT line_no, sum(qty) AS shipped FROM order_mgmt.shipment_line"
			"              WHERE shop_id = $1 AND order_id = $2 GROUP BY line_no) p ON p.line_no = l.line_no"
			"   WHERE l.shop_id = $1 AND l.order_id = $2),"
			" want AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::int4[]))"
			"   AS u(sku, qty)),"
			" pick AS MATERIALIZED (SELECT o.line_no, o.sku,"
			"    CASE WHEN $8 IS NULL THEN o.open ELSE least(o.open, w.qty - (o.upto - o.open)) END::int4 AS qty"
			"   FROM open o LEFT JOIN want w ON w.sku = o.sku"
			"   WHERE o.open > 0 AND ($8 IS NULL OR (w.sku IS NOT NULL AND o.upto - o.open < w.qty))),"
			" ins AS (INSERT INTO order_mgmt.shipment_line (shop_id, shipment_id, order_id, line_no, qty)"
			"   SELECT $1, s.shipment_id, $2, p.line_no, p.qty FROM s, pick p)"
			" SELECT s.shipment_id, p.line_no, p.sku, p.qty FROM s LEFT JOIN pick p ON true ORDER BY p.line_no",
			9, argtypes);
	values[0] = Int64GetDatum(o->shop_id);
	values[1] = Int64GetDatum(o->order_id);
	values[2] = CStringGetTextDatum(state);
	TextParam(values, nulls, 3, parcel->carrier);
	TextParam(values, nulls, 4, parcel->tracking_no);
	TextParam(values, nulls, 5, parcel->expected);
	values[6] = TimestampTzGetDatum(om_now());
	if (lines)
	{
		Datum	   *skus = palloc(sizeof(Datum) * n);
		Datum	   *qtys = palloc(sizeof(Datum) * n);

		for (i = 0; i < n; i++)
		{
			skus[i] = CStringGetTextDatum(lines[i].sku);
			qtys[i] = Int32GetDatum(lines[i].qty);
		}
		values[7] = om_text_array(skus, n);
		values[8] = om_int4_array(qtys, n);
	}
	else
		nulls[7] = nulls[8] = 'n';
	om_exec(plan, values, nulls, false, 0);
	shipment_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	initStringInfo(&detail);
	appendStringInfo(&detail, "{\"shipment_id\": " INT64_FORMAT, shipment_id);
	om_json_text_field(&detail, "carrier", parcel->carrier);
	om_json_text_field(&detail, "tracking_no", parcel->tracking_no);
	om_json_text_field(&detail, "expected_delivery", parcel->expected);
	appendStringInfoString(&detail, ", \"lines\": [");
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		Datum		line_no = SPI_getbinval(tup, td, 2, &isnull);

		if (isnull)
			break;
		appendStringInfo(&detail, "%s{\"line_no\": %d, \"sku\": ", i > 0 ? ", " : "",
						 DatumGetInt32(line_no));
		escape_json(&detail, TextDatumGetCString(SPI_getbinval(tup, td, 3, &isnull)));
		appendStringInfo(&detail, ", \"qty\": %d}", DatumGetInt32(SPI_getbinval(tup, td, 4, &isnull)));
	}
	appendStringInfoString(&detail, "]}");
	om_event_write(o->shop_id, o->order_id, "shipment", NULL, state, detail.data);
	return shipment_id;
}

static void
RefuseShipped(const OmOrder *o)
{
	ereport(ERROR,
			(errcode(ERRCODE_OM_INVALID_TRANSITION),
			 errmsg("cannot ship order " INT64_FORMAT ": it has shipped already", o->order_id),
			 errdetail("Its delivery status is \"%s\".", om_state_name(OM_MACHINE_DELIVERY, o->delivery)),
			 errhint("Record the carrier's progress with order_mgmt.set_delivery_status() or set_shipment_status().")));
}

/*
 * Ship a package of the order (lines, or everything left when NULL) in
 * the state a new parcel of its logistics starts in: shipped for standard,
 * shipping for integrated and cod (the carrier reports the rest).
 */
static int64
ShipPackage(const OmOrder *o, Jsonb *lines_json, const Parcel *parcel)
{
	int			state = o->standard ? DS_SHIPPED : DS_SHIPPING;
	OmLineQty  *lines = NULL;
	int			n = 0;
	int64		left = 0;
	int64		shipment_id;

	RefuseArchived(o, "its packages");
	if (!om_delivery_unshipped(o->delivery))
		RefuseShipped(o);
	if (lines_json)
	{
		lines = om_parse_lines(lines_json, &n);
		left = CheckPackageLines(o, lines, n);
	}
	if (left == 0 && o->delivery != DS_PARTIALLY_SHIPPED)
	{
		/* one package: judged first; the effects commit the stock */
		MoveOrder(o, state);
		return InsertPackage(o, state, lines, n, parcel);
	}
	shipment_id = InsertPackage(o, state, lines, n, parcel);
	if (left > 0)
	{
		/* some lines wait: theirs stay held, this package's leave */
		om_commit_package_stock(o->shop_id, o->order_id, shipment_id);
		if (o->delivery != DS_PARTIALLY_SHIPPED)
			MoveOrder(o, DS_PARTIALLY_SHIPPED);
	}
	else
		DeriveDelivery(o);		/* the last lines: the slowest package's state */
	return shipment_id;
}

/*
 * The packages of an order follow its delivery status to.  Those of the
 * order's parcel states behind it catch up (returns are the order's, not
 * its packages'); carrier and tracking_no, when given, go to the newest
 * package, with a 'tracking' event when they change it.
 */
static void
FollowOrder(const OmOrder *o, int to, const Parcel *parcel)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[7] = {INT8OID, INT8OID, BOOLOID, InvalidOid, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		moves = om_delivery_package_state(to);
	uint64		i;

	if (!moves && !parcel->carrier && !parcel->tracking_no)
		return;
	/* $4 is of the enum type (om_plan(): Citus and CASE) */
	argtypes[3] = om_type_oid("delivery_status");
	om_plan(&plan,
			"WITH x AS (SELECT shipment_id, carrier, tracking_no,"
			"    $3 AND status IN " PACKAGE_STATES_SQL " AND status < $4 AS behind,"
			"    shipment_id = max(shipment_id) OVER () AS newest"
			"   FROM order_mgmt.shipment WHERE shop_id = $1 AND order_id = $2 AND return_id IS NULL)"
			" UPDATE order_mgmt.shipment s SET"
			"   status = CASE WHEN x.behind THEN $4 ELSE s.status END,"
			"   delivered_at = CASE WHEN x.behind AND $4 IN ('arrived', 'collected')"
			"     THEN coalesce(s.delivered_at, $7) ELSE s.delivered_at END,"
			"   carrier = CASE WHEN x.newest THEN coalesce($5, s.carrier) ELSE s.carrier END,"
			"   tracking_no = CASE WHEN x.newest THEN coalesce($6, s.tracking_no) ELSE s.tracking_no END,"
			"   updated_at = $7"
			" FROM x WHERE s.shop_id = $1 AND s.shipment_id = x.shipment_id"
			"   AND (x.behind OR (x.newest AND ($5 IS NOT NULL OR $6 IS NOT NULL)))"
			" RETURNING s.shipment_id, x.carrier, s.carrier, x.tracking_no, s.tracking_no",
			7, argtypes);
	values[0] = Int64GetDatum(o->shop_id);
	values[1] = Int64GetDatum(o->order_id);
	values[2] = BoolGetDatum(moves);
	om_enum_param(plan, values, nulls, 3, om_state_name(OM_MACHINE_DELIVERY, to));
	TextParam(values, nulls, 4, parcel->carrier);
	TextParam(values, nulls, 5, parcel->tracking_no);
	values[6] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, nulls, false, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		char	   *old_carrier = SPI_getvalue(tup, td, 2);
		char	   *new_carrier = SPI_getvalue(tup, td, 3);
		char	   *old_tracking = SPI_getvalue(tup, td, 4);
		char	   *new_tracking = SPI_getvalue(tup, td, 5);
		StringInfoData detail;

		if ((old_carrier == NULL) == (new_carrier == NULL) &&
			(old_carrier == NULL || strcmp(old_carrier, new_carrier) == 0) &&
			(old_tracking == NULL) == (new_tracking == NULL) &&
			(old_tracking == NULL || strcmp(old_tracking, new_tracking) == 0))
			continue;
		initStringInfo(&detail);
		appendStringInfo(&detail, "{\"shipment_id\": %s", SPI_getvalue(tup, td, 1));
		om_json_text_field(&detail, "carrier_from", old_carrier);
		om_json_text_field(&detail, "carrier_to", new_carrier);
		appendStringInfoChar(&detail, '}');
		om_event_write(o->shop_id, o->order_id, "tracking", old_tracking, new_tracking, detail.data);
	}
}

/* 0.1.0's shipment record: the order's newest shipment follows its delivery. */
static int64
LegacyTrackShipment(const OmOrder *o, int delivery, const Parcel *parcel)
{
	static SPIPlanPtr update_plan = NULL;
	static SPIPlanPtr insert_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;

	values[0] = Int64GetDatum(o->shop_id);
	values[1] = Int64GetDatum(o->order_id);
	values[2] = CStringGetTextDatum(om_state_name(OM_MACHINE_DELIVERY, delivery));
	TextParam(values, nulls, 3, parcel->carrier);
	TextParam(values, nulls, 4, parcel->tracking_no);
	values[5] = TimestampTzGetDatum(om_now());

	om_plan(&update_plan,
			"UPDATE order_mgmt.shipment s SET status = $3::order_mgmt.delivery_status,"
			" carrier = coalesce($4, s.carrier), tracking_no = coalesce($5, s.tracking_no), updated_at = $6"
			" WHERE s.shop_id = $1 AND s.shipment_id = (SELECT max(shipment_id) FROM order_mgmt.shipment"
			"   WHERE shop_id = $1 AND order_id = $2 AND return_id IS NULL)"
			" RETURNING shipment_id",
			6, argtypes);
	om_exec(update_plan, values, nulls, false, 0);
	if (SPI_processed == 0)
	{
		if (om_delivery_pre_shipment(delivery))
			return 0;
		om_plan(&insert_plan,
				"INSERT INTO order_mgmt.shipment (shop_id, order_id, status, carrier, tracking_no,"
				" created_at, updated_at)"
				" VALUES ($1, $2, $3::order_mgmt.delivery_status, $4, $5, $6, $6) RETURNING shipment_id",
				6, argtypes);
		om_exec(insert_plan, values, nulls, false, 0);
	}
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * ship(shop_id, order_id, carrier, tracking_no) -> shipment_id
 *
 * Hands everything not shipped yet to the carrier in one package: standard
 * orders become shipped, integrated and cod orders shipping (the carrier
 * reports the rest); after earlier packages, the slowest package's state.
 */
PG_FUNCTION_INFO_V1(om_ship);
Datum
om_ship(PG_FUNCTION_ARGS)
{
	OmOrder		o;
	Parcel		parcel = {OptText(fcinfo, 2), OptText(fcinfo, 3), NULL};
	int64		shipment_id;

	EnterOrder(fcinfo, &o);
	if (HasPackages())
		shipment_id = ShipPackage(&o, NULL, &parcel);
	else
	{
		int			to = o.standard ? DS_SHIPPED : DS_SHIPPING;

		if (!om_delivery_pre_shipment(o.delivery))
			RefuseShipped(&o);
		MoveOrder(&o, to);
		shipment_id = LegacyTrackShipment(&o, to, &parcel);
	}
	SPI_finish();
	PG_RETURN_INT64(shipment_id);
}

/*
 * ship_package(shop_id, order_id, lines, carrier, tracking_no,
 *				expected_delivery) -> shipment_id
 *
 * One package of some of the order's lines ([{"sku": "A", "qty": 1}]; NULL:
 * everything left).  While lines wait, the order is partially_shipped.
 */
PG_FUNCTION_INFO_V1(om_ship_package);
Datum
om_ship_package(PG_FUNCTION_ARGS)
{
	OmOrder		o;
	Parcel		parcel = {OptText(fcinfo, 3), OptText(fcinfo, 4), OptDate(fcinfo, 5)};
	int64		shipment_id;

	om_require_column("shipment", "expected_delivery", "ship_package()");
	EnterOrder(fcinfo, &o);
	shipment_id = ShipPackage(&o, PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), &parcel);
	SPI_finish();
	PG_RETURN_INT64(shipment_id);
}

/*
 * set_delivery_status(shop_id, order_id, status, carrier, tracking_no) -> void
 *
 * Moves the whole order.  To a parcel state (shipping, shipped, arrived,
 * collected) while lines wait, those lines go out in one package in that
 * state; the packages behind it catch up.  carrier and tracking_no go to
 * the newest package.
 */
PG_FUNCTION_INFO_V1(om_set_delivery_status);
Datum
om_set_delivery_status(PG_FUNCTION_ARGS)
{
	OmOrder		o;
	int			to;
	Parcel		parcel = {OptText(fcinfo, 3), OptText(fcinfo, 4), NULL};

	OM_SHOP_ARG(0);			/* before the other arguments are judged */
	OM_ARG_NOT_NULL(2, "status");
	to = om_state_by_name(OM_MACHINE_DELIVERY,
						  DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(2))));
	EnterOrder(fcinfo, &o);
	/*
	 * partially_shipped says which lines went out in which package: only
	 * ship_package() records that (issue 19: the fuzzer found an order
	 * moved there by this function with no package at all).
	 */
	if (to == DS_PARTIALLY_SHIPPED && o.delivery != DS_PARTIALLY_SHIPPED)
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot move delivery of order " INT64_FORMAT " to partially_shipped with set_delivery_status",
						o.order_id),
				 errdetail("An order is partially shipped when some of its lines went out in a package; the package records which."),
				 errhint("Use order_mgmt.ship_package().")));
	if (!HasPackages())
	{
		MoveOrder(&o, to);
		(void) LegacyTrackShipment(&o, to, &parcel);
	}
	else if (om_delivery_unshipped(o.delivery) && om_delivery_package_state(to))
	{
		/* judged first: no package for a move the machine refuses */
		MoveOrder(&o, to);
		(void) InsertPackage(&o, to, NULL, 0, &parcel);
		if (o.delivery == DS_PARTIALLY_SHIPPED)
		{
			Parcel		none = {NULL, NULL, NULL};

			FollowOrder(&o, to, &none);
		}
	}
	else
	{
		MoveOrder(&o, to);
		FollowOrder(&o, to, &parcel);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/* A package as its order's lock finds it. */
typedef struct Package
{
	int64		shipment_id;
	int			status;
	bool		exchange;		/* an exchange's replacement (return_id set) */
	char	   *carrier;
	char	   *tracking_no;
	char	   *expected;
} Package;

/* The error for a shipment id the shop does not have (22023); detail may be NULL. */
pg_noreturn static void ShipmentNotFound(int64 shop_id, int64 shipment_id, const char *detail);

static void
ShipmentNotFound(int64 shop_id, int64 shipment_id, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("shipment " INT64_FORMAT " does not exist in shop " INT64_FORMAT, shipment_id, shop_id),
			 detail ? errdetail("%s", detail) : 0));
}

/*
 * Take a package: find its order, lock that (applying its deadlines), then
 * read the package; 22023 if there is none, OM008 if its order is archived.
 * Connects to SPI; the caller ends with SPI_finish().
 */
static void
EnterPackage(FunctionCallInfo fcinfo, OmOrder *o, Package *p)
{
	static SPIPlanPtr find_plan = NULL;
	static SPIPlanPtr read_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	int64		shop_id;
	Datum		values[2];
	HeapTuple	tup;
	TupleDesc	td;
	bool		isnull;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "shipment_id");
	om_require_column("shipment", "expected_delivery", "packages");
	shop_id = PG_GETARG_INT64(0);
	p->shipment_id = PG_GETARG_INT64(1);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(p->shipment_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&find_plan, "SELECT order_id FROM order_mgmt.shipment WHERE shop_id = $1 AND shipment_id = $2",
			2, argtypes);
	om_exec(find_plan, values, NULL, false, 1);
	if (SPI_processed == 0)
		ShipmentNotFound(shop_id, p->shipment_id, NULL);
	om_lock_order(shop_id, DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)), o);

	om_plan(&read_plan,
			"SELECT status::text, return_id IS NOT NULL, carrier, tracking_no,"
			" pg_catalog.to_char(expected_delivery, 'YYYY-MM-DD')"
			" FROM order_mgmt.shipment WHERE shop_id = $1 AND shipment_id = $2",
			2, argtypes);
	om_exec(read_plan, values, NULL, false, 1);
	/* shipments are never deleted, unless by hand with the triggers off */
	if (SPI_processed == 0)
		ShipmentNotFound(shop_id, p->shipment_id, "The package was deleted while this call waited for its order.");
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	p->status = om_state_by_name(OM_MACHINE_DELIVERY, SPI_getvalue(tup, td, 1));
	p->exchange = DatumGetBool(SPI_getbinval(tup, td, 2, &isnull));
	p->carrier = SPI_getvalue(tup, td, 3);
	p->tracking_no = SPI_getvalue(tup, td, 4);
	p->expected = SPI_getvalue(tup, td, 5);
	RefuseArchived(o, psprintf("shipment " INT64_FORMAT, p->shipment_id));
}

/*
 * set_shipment_status(shop_id, shipment_id, status) -> void
 *
 * The carrier's progress on one package: shipping, shipped, arrived or
 * collected, by the moves of the delivery machine (else OM005).  Once all
 * the order's lines have shipped, the order's delivery is its slowest
 * package's; an exchange's replacement moves alone.
 */
PG_FUNCTION_INFO_V1(om_set_shipment_status);
Datum
om_set_shipment_status(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID};
	OmOrder		o;
	Package		p;
	int			to;

	OM_SHOP_ARG(0);			/* before the other arguments are judged */
	OM_ARG_NOT_NULL(2, "status");
	to = om_state_by_name(OM_MACHINE_DELIVERY,
						  DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(2))));
	EnterPackage(fcinfo, &o, &p);
	if (!om_delivery_package_state(to) || !om_move_allowed(OM_MACHINE_DELIVERY, p.status, to))
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("invalid transition of shipment " INT64_FORMAT ": delivery_status %s to %s",
						p.shipment_id, om_state_name(OM_MACHINE_DELIVERY, p.status),
						om_state_name(OM_MACHINE_DELIVERY, to)),
				 errdetail("A package moves through shipping, shipped, arrived and collected by the moves of machine delivery_status; returns are the order's."),
				 errhint("The allowed moves are listed in the view order_mgmt.transitions.")));
	if (to != p.status)
	{
		om_plan(&plan,
				"UPDATE order_mgmt.shipment SET status = $3::order_mgmt.delivery_status, updated_at = $4,"
				" delivered_at = CASE WHEN $3 IN ('arrived', 'collected') THEN coalesce(delivered_at, $4)"
				"   ELSE delivered_at END"
				" WHERE shop_id = $1 AND shipment_id = $2",
				4, argtypes);
		om_exec(plan, (Datum[]) {Int64GetDatum(o.shop_id), Int64GetDatum(p.shipment_id),
				CStringGetTextDatum(om_state_name(OM_MACHINE_DELIVERY, to)),
				TimestampTzGetDatum(om_now())}, NULL, false, 0);
		om_event_write(o.shop_id, o.order_id, "shipment",
					   om_state_name(OM_MACHINE_DELIVERY, p.status),
					   om_state_name(OM_MACHINE_DELIVERY, to),
					   psprintf("{\"shipment_id\": " INT64_FORMAT "}", p.shipment_id));
		if (!p.exchange && om_delivery_package_state(o.delivery))
			DeriveDelivery(&o);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * set_tracking(shop_id, shipment_id, carrier, tracking_no,
 *				expected_delivery) -> void
 *
 * Changes a package's carrier, tracking number or expected delivery date
 * (NULL keeps it); a 'tracking' event records the old and new values.
 */
PG_FUNCTION_INFO_V1(om_set_tracking);
Datum
om_set_tracking(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	OmOrder		o;
	Package		p;
	Parcel		now = {OptText(fcinfo, 2), OptText(fcinfo, 3), OptDate(fcinfo, 4)};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	StringInfoData detail;

	EnterPackage(fcinfo, &o, &p);
	if (now.carrier == NULL)
		now.carrier = p.carrier;
	if (now.tracking_no == NULL)
		now.tracking_no = p.tracking_no;
	if (now.expected == NULL)
		now.expected = p.expected;
#define SAME(a, b) (((a) == NULL && (b) == NULL) || ((a) && (b) && strcmp((a), (b)) == 0))
	if (!SAME(now.carrier, p.carrier) || !SAME(now.tracking_no, p.tracking_no) ||
		!SAME(now.expected, p.expected))
	{
		om_plan(&plan,
				"UPDATE order_mgmt.shipment SET carrier = $3, tracking_no = $4, expected_delivery = $5::date,"
				" updated_at = $6 WHERE shop_id = $1 AND shipment_id = $2",
				6, argtypes);
		values[0] = Int64GetDatum(o.shop_id);
		values[1] = Int64GetDatum(p.shipment_id);
		TextParam(values, nulls, 2, now.carrier);
		TextParam(values, nulls, 3, now.tracking_no);
		TextParam(values, nulls, 4, now.expected);
		values[5] = TimestampTzGetDatum(om_now());
		om_exec(plan, values, nulls, false, 0);

		initStringInfo(&detail);
		appendStringInfo(&detail, "{\"shipment_id\": " INT64_FORMAT, p.shipment_id);
		om_json_text_field(&detail, "carrier_from", p.carrier);
		om_json_text_field(&detail, "carrier_to", now.carrier);
		om_json_text_field(&detail, "expected_delivery_from", p.expected);
		om_json_text_field(&detail, "expected_delivery_to", now.expected);
		appendStringInfoChar(&detail, '}');
		om_event_write(o.shop_id, o.order_id, "tracking", p.tracking_no, now.tracking_no, detail.data);
	}
#undef SAME
	SPI_finish();
	PG_RETURN_VOID();
}
