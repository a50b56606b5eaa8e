/*-------------------------------------------------------------------------
 *
 * inventory.c
 *	  SKUs and physical stock (SPEC §4): upsert_sku, set_stock, adjust_stock.
 *
 * A SKU's stock is split over K rows of order_mgmt.stock (buckets
 * 0 .. K-1, K = sku.stock_buckets or the shop's default) so that a hot SKU
 * can be held by K checkouts at once.  set_stock and adjust_stock spread
 * the physical stock evenly over the buckets, each keeping at least what
 * it has reserved; buckets beyond K (left after K was lowered) keep only
 * what they have reserved, so they drain.
 *
 * Locking: a stock change locks all of the SKU's stock rows in bucket
 * order (the order every other path uses, SPEC §4.6) and holds them to the
 * end of the transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "clock.h"
#include "events.h"
#include "icu.h"
#include "money.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "rls.h"
#include "shop.h"
#include "spi_util.h"
#include "stock.h"

/* The checked arguments of upsert_sku. */
typedef struct SkuArgs
{
	int64		shop_id;
	char	   *sku;
	Numeric		price;
	bool		digital;
	bool		backorder;		/* allow_backorder */
	int32		buckets;		/* stock_buckets, or the shop's default */
} SkuArgs;

/*
 * upsert_sku, step 1: check the arguments in their order, raising 22023
 * for the first that is NULL where it must not be or out of range, and
 * fill *a (a->buckets is 0 when stock_buckets is NULL).
 */
static void
CheckSkuArgs(FunctionCallInfo fcinfo, SkuArgs *a)
{
	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "sku");
	OM_ARG_NOT_NULL(2, "price");
	OM_ARG_NOT_NULL(6, "digital");
	OM_ARG_NOT_NULL(7, "allow_backorder");
	a->shop_id = PG_GETARG_INT64(0);
	a->sku = text_to_cstring(PG_GETARG_TEXT_PP(1));
	om_check_identifier("sku", a->sku);
	a->price = PG_GETARG_NUMERIC(2);
	if (!OM_NUMERIC_IS_FINITE(a->price) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(a->price),
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("price of sku \"%s\" must be a finite number of at least 0", a->sku),
				 errdetail("Got %s.", DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(a->price))))));
	om_check_amount_range("price", a->price);
	if (!PG_ARGISNULL(3))
		om_check_identifier("product_id", text_to_cstring(PG_GETARG_TEXT_PP(3)));
	if (!PG_ARGISNULL(5) && !JB_ROOT_IS_OBJECT(PG_GETARG_JSONB_P(5)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("attrs of sku \"%s\" must be a JSON object", a->sku),
				 errhint("For example: {\"color\": \"red\", \"size\": \"M\"}.")));
	a->digital = PG_GETARG_BOOL(6);
	a->backorder = PG_GETARG_BOOL(7);
	a->buckets = 0;
	if (!PG_ARGISNULL(8))
	{
		a->buckets = PG_GETARG_INT32(8);
		if (a->buckets < 1 || a->buckets > OM_MAX_BUCKETS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("stock_buckets must be between 1 and %d", OM_MAX_BUCKETS),
					 errdetail("Got %d.", a->buckets)));
	}
}

/*
 * upsert_sku, step 2: the shop's default bucket count; raises the shop's
 * not-found error when there is no such shop.  Inside SPI.
 */
static int32
ShopBuckets(int64 shop_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[] = {INT8OID};
	Datum		values[1];
	bool		isnull;

	om_plan(&plan, "SELECT stock_buckets FROM order_mgmt.shop WHERE shop_id = $1",
			1, types);
	values[0] = Int64GetDatum(shop_id);
	om_exec(plan, values, NULL, true, 1);
	if (SPI_processed == 0)
		om_shop_not_found(shop_id);
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * upsert_sku, step 3: insert the SKU's row or update it to the arguments
 * (the optional ones NULL where they are; attrs '{}').  Inside SPI.
 */
static void
WriteSku(FunctionCallInfo fcinfo, const SkuArgs *a)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[] = {INT8OID, TEXTOID, NUMERICOID, TEXTOID, TEXTOID,
	JSONBOID, BOOLOID, BOOLOID, INT4OID, BOOLOID, TIMESTAMPTZOID};
	Datum		values[11];
	char		nulls[11];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(a->shop_id);
	values[1] = CStringGetTextDatum(a->sku);
	values[2] = NumericGetDatum(a->price);
	values[3] = PG_ARGISNULL(3) ? (nulls[3] = 'n', (Datum) 0) : PG_GETARG_DATUM(3);
	values[4] = PG_ARGISNULL(4) ? (nulls[4] = 'n', (Datum) 0) : PG_GETARG_DATUM(4);
	values[5] = PG_ARGISNULL(5) ? DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")) : PG_GETARG_DATUM(5);
	values[6] = BoolGetDatum(a->digital);
	values[7] = BoolGetDatum(a->backorder);
	values[8] = PG_ARGISNULL(8) ? (nulls[8] = 'n', (Datum) 0) : Int32GetDatum(a->buckets);
	values[9] = PG_ARGISNULL(9) ? (nulls[9] = 'n', (Datum) 0) : PG_GETARG_DATUM(9);
	values[10] = TimestampTzGetDatum(om_now());
	om_plan(&plan,
			"INSERT INTO order_mgmt.sku AS k (shop_id, sku, price, product_id, title, attrs,"
			" digital, allow_backorder, stock_buckets, admission_queue, created_at, updated_at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)"
			" ON CONFLICT (shop_id, sku) DO UPDATE SET price = EXCLUDED.price,"
			" product_id = EXCLUDED.product_id, title = EXCLUDED.title, attrs = EXCLUDED.attrs,"
			" digital = EXCLUDED.digital, allow_backorder = EXCLUDED.allow_backorder,"
			" stock_buckets = EXCLUDED.stock_buckets, admission_queue = EXCLUDED.admission_queue,"
			" updated_at = EXCLUDED.updated_at",
			11, types);
	om_exec(plan, values, nulls, false, 0);
}

/*
 * upsert_sku, step 4: lock the SKU's stock rows in bucket order, as every
 * path does; when backorder is being turned off, raise OM001 if a bucket
 * is sold beyond its on_hand; then set every row's backorder flag and, for
 * a SKU that is not digital, create its missing buckets (on_hand 0).
 * Inside SPI.
 */
static void
WriteSkuStock(const SkuArgs *a)
{
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr oversold_plan = NULL;
	static SPIPlanPtr backorder_plan = NULL;
	static SPIPlanPtr buckets_plan = NULL;
	static const Oid stock_types[] = {INT8OID, TEXTOID, BOOLOID};
	static const Oid bucket_types[] = {INT8OID, TEXTOID, BOOLOID, INT4OID};
	Datum		values[4];
	bool		isnull;

	(void) om_exec_for_key(&lock_plan,
						   "SELECT 1 FROM order_mgmt.stock WHERE shop_id = $1 AND sku = $2"
						   " ORDER BY bucket FOR NO KEY UPDATE",
						   a->shop_id, a->sku, false, 0);

	if (!a->backorder)
	{
		(void) om_exec_for_key(&oversold_plan,
							   "SELECT sum(on_hand)::int8, sum(reserved)::int8 FROM order_mgmt.stock"
							   " WHERE shop_id = $1 AND sku = $2 AND reserved > on_hand",
							   a->shop_id, a->sku, true, 1);
		(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
		{
			int64		on_hand = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			int64		reserved = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

			ereport(ERROR,
					(errcode(ERRCODE_OM_INSUFFICIENT_STOCK),
					 errmsg("cannot turn off backorder for sku \"%s\": it is sold beyond its stock", a->sku),
					 errdetail("SKU %s: reserved " INT64_FORMAT ", on_hand " INT64_FORMAT ", available " INT64_FORMAT ".",
							   a->sku, reserved, on_hand, on_hand - reserved),
					 errhint("Raise its stock with order_mgmt.set_stock() first.")));
		}
	}
	values[0] = Int64GetDatum(a->shop_id);
	values[1] = CStringGetTextDatum(a->sku);
	values[2] = BoolGetDatum(a->backorder);
	om_plan(&backorder_plan,
			"UPDATE order_mgmt.stock SET backorder = $3"
			" WHERE shop_id = $1 AND sku = $2 AND backorder <> $3",
			3, stock_types);
	om_exec(backorder_plan, values, NULL, false, 0);

	if (!a->digital)
	{
		values[3] = Int32GetDatum(a->buckets);
		om_plan(&buckets_plan,
				"INSERT INTO order_mgmt.stock (shop_id, sku, bucket, backorder)"
				" SELECT $1, $2, b, $3 FROM pg_catalog.generate_series(0, $4 - 1) AS b"
				" ON CONFLICT (shop_id, sku, bucket) DO NOTHING",
				4, bucket_types);
		om_exec(buckets_plan, values, NULL, false, 0);
	}
}

/*
 * upsert_sku(shop_id, sku, price, product_id, title, attrs, digital,
 *			  allow_backorder, stock_buckets, admission_queue) -> void
 *
 * Every argument is the SKU's new value (defaults included).  Creates the
 * stock rows of a SKU that is not digital (on_hand 0) and keeps their
 * backorder flag in step with allow_backorder.
 */
PG_FUNCTION_INFO_V1(om_upsert_sku);
Datum
om_upsert_sku(PG_FUNCTION_ARGS)
{
	SkuArgs		a;
	int32		shop_buckets;

	CheckSkuArgs(fcinfo, &a);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	shop_buckets = ShopBuckets(a.shop_id);
	if (PG_ARGISNULL(8))
		a.buckets = shop_buckets;
	WriteSku(fcinfo, &a);
	WriteSkuStock(&a);
	SPI_finish();
	PG_RETURN_VOID();
}

/* A SKU's stock rows, read and locked by ChangeStock(). */
typedef struct SkuStock
{
	bool		backorder;		/* sku.allow_backorder */
	int			k;				/* the buckets to spread the stock over */
	int			nb;				/* the buckets there are: k, or more that drain */
	int64		on_hand;		/* over all buckets */
	int64		reserved;		/* over all buckets */
	int32	   *bucket_reserved;	/* per bucket, [nb] */
} SkuStock;

/*
 * ChangeStock, step 1: the SKU's backorder flag and bucket count K (its
 * automatic one included, hot_sku.c) into *st; raises the shop's
 * not-found error, or 22023 when the shop has no such SKU.  Inside SPI.
 */
static void
LoadSku(int64 shop_id, const char *sku, SkuStock *st)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_010 = NULL;
	bool		auto_col = om_has_column("sku", "auto_buckets");
	bool		isnull;

	/*
	 * FOR SHARE of the SKU row: balance_buckets() changes auto_buckets (an
	 * UPDATE of this row) before it moves units into new buckets, so a
	 * stock change waits for it here and then reads the rows it made
	 */
	if (om_exec_for_key(auto_col ? &plan : &plan_010,
						auto_col ?
						"SELECT k.allow_backorder, " OM_SKU_BUCKETS_SQL
						" FROM order_mgmt.sku k JOIN order_mgmt.shop s ON s.shop_id = k.shop_id"
						" WHERE k.shop_id = $1 AND k.sku = $2 FOR SHARE OF k" :
						"SELECT k.allow_backorder, coalesce(k.stock_buckets, s.stock_buckets)"
						" FROM order_mgmt.sku k JOIN order_mgmt.shop s ON s.shop_id = k.shop_id"
						" WHERE k.shop_id = $1 AND k.sku = $2",
						shop_id, sku, false, 1) == 0)
	{
		om_require_shop(shop_id);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sku \"%s\" does not exist in shop " INT64_FORMAT, sku, shop_id),
				 errhint("Create it with order_mgmt.upsert_sku().")));
	}
	st->backorder = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	st->k = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
}

/*
 * ChangeStock, step 2: lock every stock row of the SKU, in bucket order,
 * and sum them into *st (st->k set by LoadSku).  Inside SPI.
 */
static void
LockBuckets(int64 shop_id, const char *sku, SkuStock *st)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;
	uint64		i;

	(void) om_exec_for_key(&plan,
						   "SELECT bucket, on_hand, reserved FROM order_mgmt.stock"
						   " WHERE shop_id = $1 AND sku = $2 ORDER BY bucket FOR NO KEY UPDATE",
						   shop_id, sku, false, 0);

	st->nb = st->k;
	for (i = 0; i < SPI_processed; i++)
	{
		int			bucket = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

		st->nb = Max(st->nb, bucket + 1);
	}
	st->bucket_reserved = palloc0(sizeof(int32) * st->nb);
	st->on_hand = 0;
	st->reserved = 0;
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		int			bucket = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));

		st->on_hand += DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
		st->bucket_reserved[bucket] = DatumGetInt32(SPI_getbinval(tup, td, 3, &isnull));
		st->reserved += st->bucket_reserved[bucket];
	}
}

/*
 * ChangeStock, step 3: check the new on_hand, target: 22003 when it is out
 * of range, OM001 when it is negative or, without backorder, below the
 * reserved units.
 */
static void
CheckTarget(const char *sku, bool is_delta, int32 amount, int64 target,
			const SkuStock *st)
{
	if (target > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("on_hand of sku \"%s\" would be out of range", sku),
				 errdetail("SKU %s: on_hand " INT64_FORMAT ", change %d.", sku, st->on_hand, amount)));
	if ((target >= st->reserved || st->backorder) && target >= 0)
		return;
	if (is_delta)
		ereport(ERROR,
				(errcode(ERRCODE_OM_INSUFFICIENT_STOCK),
				 errmsg("cannot adjust stock of sku \"%s\" by %d: it would fall below its reserved units", sku, amount),
				 errdetail("SKU %s: requested on_hand " INT64_FORMAT ", reserved " INT64_FORMAT ", available " INT64_FORMAT ".",
						   sku, target, st->reserved, st->on_hand - st->reserved),
				 errhint("Ship or release the orders holding it first%s.",
						 st->backorder ? "" : ", or allow backorder for this SKU")));
	else
		ereport(ERROR,
				(errcode(ERRCODE_OM_INSUFFICIENT_STOCK),
				 errmsg("cannot set stock of sku \"%s\" below its reserved units", sku),
				 errdetail("SKU %s: requested on_hand " INT64_FORMAT ", reserved " INT64_FORMAT ", available " INT64_FORMAT ".",
						   sku, target, st->reserved, st->on_hand - st->reserved),
				 errhint("Ship or release the orders holding it first, or allow backorder for this SKU.")));
}

/*
 * ChangeStock, step 4, the bucket re-split: each bucket's on_hand for a
 * total of target.  Buckets below K share the free units evenly on top of
 * what they have reserved; the buckets beyond K keep only their reserved
 * units, so they drain.  A backorder SKU sold beyond target splits target
 * evenly over the K buckets.
 */
static int32 *
SpreadStock(int64 target, const SkuStock *st)
{
	int32	   *units = palloc(sizeof(int32) * st->nb);
	int64		free_units = target - st->reserved;
	int			k = st->k;
	int			b;

	for (b = 0; b < st->nb; b++)
	{
		int64		u;

		if (free_units >= 0)
			u = st->bucket_reserved[b] +
				(b < k ? free_units / k + (b < free_units % k ? 1 : 0) : 0);
		else					/* backorder sold beyond stock */
			u = b < k ? target / k + (b < target % k ? 1 : 0) : 0;
		units[b] = (int32) u;
	}
	return units;
}

/*
 * ChangeStock, step 5: write units[b] as the on_hand of bucket b of the
 * SKU, b in 0 .. nb - 1, creating missing rows (with the SKU's backorder
 * flag) and leaving unchanged ones alone.  Inside SPI.
 */
static void
WriteBuckets(int64 shop_id, const char *sku, const int32 *units, int nb, bool backorder)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[] = {INT8OID, TEXTOID, INT4ARRAYOID, INT4ARRAYOID, BOOLOID};
	Datum		values[5];
	Datum	   *out_bucket = palloc(sizeof(Datum) * nb);
	Datum	   *out_on_hand = palloc(sizeof(Datum) * nb);
	int			b;

	om_plan(&plan,
			"INSERT INTO order_mgmt.stock AS s (shop_id, sku, bucket, on_hand, backorder)"
			" SELECT $1, $2, b.bucket, b.on_hand, $5"
			" FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS b(bucket, on_hand)"
			" ON CONFLICT (shop_id, sku, bucket) DO UPDATE SET on_hand = EXCLUDED.on_hand"
			" WHERE s.on_hand <> EXCLUDED.on_hand",
			5, types);
	for (b = 0; b < nb; b++)
	{
		out_bucket[b] = Int32GetDatum(b);
		out_on_hand[b] = Int32GetDatum(units[b]);
	}
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(sku);
	values[2] = om_int4_array(out_bucket, nb);
	values[3] = om_int4_array(out_on_hand, nb);
	values[4] = BoolGetDatum(backorder);
	om_exec(plan, values, NULL, false, 0);
}

/*
 * ChangeStock, step 6: the stock_log row of a change by delta to on_hand,
 * with its note (or NULL), the acting actor and the time.  Inside SPI.
 */
static void
LogStockChange(int64 shop_id, const char *sku, int32 delta, int32 on_hand,
			   const char *note)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[] = {INT8OID, TEXTOID, INT4OID, INT4OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(sku);
	values[2] = Int32GetDatum(delta);
	values[3] = Int32GetDatum(on_hand);
	om_text_param(values, nulls, 4, note);
	values[5] = CStringGetTextDatum(om_actor());
	values[6] = TimestampTzGetDatum(om_now());
	om_plan(&plan,
			"INSERT INTO order_mgmt.stock_log (shop_id, sku, delta, on_hand, note, actor, at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7)",
			7, types);
	om_exec(plan, values, nulls, false, 0);
}

/*
 * Set a SKU's physical stock to target (set_stock) or change it by delta
 * (adjust_stock), spreading it over the buckets; log it; return the new
 * on_hand over all buckets.  Inside an SPI connection.
 */
static int32
ChangeStock(int64 shop_id, const char *sku, bool is_delta, int32 amount,
			const char *note)
{
	SkuStock	st;
	int64		target;

	LoadSku(shop_id, sku, &st);
	LockBuckets(shop_id, sku, &st);
	target = is_delta ? st.on_hand + amount : amount;
	CheckTarget(sku, is_delta, amount, target, &st);
	WriteBuckets(shop_id, sku, SpreadStock(target, &st), st.nb, st.backorder);
	if (target != st.on_hand)
		LogStockChange(shop_id, sku, (int32) (target - st.on_hand), (int32) target, note);
	return (int32) target;
}

/*
 * set_stock(shop_id, sku, on_hand) -> void
 */
PG_FUNCTION_INFO_V1(om_set_stock);
Datum
om_set_stock(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	char	   *sku;
	int32		on_hand;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "sku");
	OM_ARG_NOT_NULL(2, "on_hand");
	shop_id = PG_GETARG_INT64(0);
	sku = text_to_cstring(PG_GETARG_TEXT_PP(1));
	on_hand = PG_GETARG_INT32(2);
	if (on_hand < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("on_hand must not be negative"),
				 errdetail("Got %d for sku \"%s\".", on_hand, sku)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) ChangeStock(shop_id, sku, false, on_hand, "set_stock");
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * adjust_stock(shop_id, sku, delta, note) -> int: the new on_hand
 */
PG_FUNCTION_INFO_V1(om_adjust_stock);
Datum
om_adjust_stock(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	char	   *sku;
	int32		result;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "sku");
	OM_ARG_NOT_NULL(2, "delta");
	shop_id = PG_GETARG_INT64(0);
	sku = text_to_cstring(PG_GETARG_TEXT_PP(1));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	result = ChangeStock(shop_id, sku, true, PG_GETARG_INT32(2),
						 PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)));
	SPI_finish();
	PG_RETURN_INT32(result);
}

/*
 * balance_buckets() (hot_sku.c), after it changed sku.auto_buckets: spread
 * the SKU's free units over its new bucket count K, as set_stock spreads an
 * unchanged on_hand.  Its stock rows are locked in bucket order and
 * on_hand and reserved over all buckets stay what they were; buckets
 * beyond K keep only their reserved units, so they drain (as after
 * lowering stock_buckets), and those left with nothing are removed.  Logs
 * a stock_log row of delta 0 with note.  Returns the SKU's on_hand.
 * Inside SPI.
 */
int32
om_respread_stock(int64 shop_id, const char *sku, const char *note)
{
	static SPIPlanPtr drop_plan = NULL;
	static const Oid drop_types[] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];
	SkuStock	st;

	LoadSku(shop_id, sku, &st);
	LockBuckets(shop_id, sku, &st);
	WriteBuckets(shop_id, sku, SpreadStock(st.on_hand, &st), st.nb, st.backorder);
	om_plan(&drop_plan,
			"DELETE FROM order_mgmt.stock WHERE shop_id = $1 AND sku = $2 AND bucket >= $3"
			" AND on_hand = 0 AND reserved = 0",
			3, drop_types);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(sku);
	values[2] = Int32GetDatum(st.k);
	om_exec(drop_plan, values, NULL, false, 0);
	LogStockChange(shop_id, sku, 0, (int32) st.on_hand, note);
	return (int32) st.on_hand;
}
