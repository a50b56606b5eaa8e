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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "clock.h"
#include "events.h"
#include "icu.h"
#include "money.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "shop.h"
#include "spi_util.h"

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
	static SPIPlanPtr shop_plan = NULL;
	static SPIPlanPtr sku_plan = NULL;
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr oversold_plan = NULL;
	static SPIPlanPtr backorder_plan = NULL;
	static SPIPlanPtr buckets_plan = NULL;
	static const Oid shop_types[] = {INT8OID};
	static const Oid sku_types[] = {INT8OID, TEXTOID, NUMERICOID, TEXTOID, TEXTOID,
	JSONBOID, BOOLOID, BOOLOID, INT4OID, BOOLOID, TIMESTAMPTZOID};
	static const Oid stock_types[] = {INT8OID, TEXTOID, BOOLOID};
	static const Oid bucket_types[] = {INT8OID, TEXTOID, BOOLOID, INT4OID};
	int64		shop_id;
	char	   *sku;
	Numeric		price;
	bool		digital;
	bool		backorder;
	int32		buckets = 0;
	Datum		values[11];
	char		nulls[11];
	bool		isnull;

	OM_ARG_NOT_NULL(0, "shop_id");
	OM_ARG_NOT_NULL(1, "sku");
	OM_ARG_NOT_NULL(2, "price");
	OM_ARG_NOT_NULL(6, "digital");
	OM_ARG_NOT_NULL(7, "allow_backorder");
	shop_id = PG_GETARG_INT64(0);
	sku = text_to_cstring(PG_GETARG_TEXT_PP(1));
	om_check_identifier("sku", sku);
	price = PG_GETARG_NUMERIC(2);
	if (!OM_NUMERIC_IS_FINITE(price) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(price),
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("price of sku \"%s\" must be a finite number of at least 0", sku),
				 errdetail("Got %s.", DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(price))))));
	if (!PG_ARGISNULL(3))
		om_check_identifier("product_id", text_to_cstring(PG_GETARG_TEXT_PP(3)));
	if (!PG_ARGISNULL(5) && !JB_ROOT_IS_OBJECT(PG_GETARG_JSONB_P(5)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("attrs of sku \"%s\" must be a JSON object", sku),
				 errhint("For example: {\"color\": \"red\", \"size\": \"M\"}.")));
	digital = PG_GETARG_BOOL(6);
	backorder = PG_GETARG_BOOL(7);
	if (!PG_ARGISNULL(8))
	{
		buckets = PG_GETARG_INT32(8);
		if (buckets < 1 || buckets > OM_MAX_BUCKETS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("stock_buckets must be between 1 and %d", OM_MAX_BUCKETS),
					 errdetail("Got %d.", buckets)));
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* the shop, and its default bucket count */
	om_plan(&shop_plan, "SELECT stock_buckets FROM order_mgmt.shop WHERE shop_id = $1",
			1, shop_types);
	values[0] = Int64GetDatum(shop_id);
	om_exec(shop_plan, values, NULL, true, 1);
	if (SPI_processed == 0)
		om_shop_not_found(shop_id);
	if (PG_ARGISNULL(8))
		buckets = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(sku);
	values[2] = NumericGetDatum(price);
	values[3] = PG_ARGISNULL(3) ? (nulls[3] = 'n', (Datum) 0) : PG_GETARG_DATUM(3);
	values[4] = PG_ARGISNULL(4) ? (nulls[4] = 'n', (Datum) 0) : PG_GETARG_DATUM(4);
	values[5] = PG_ARGISNULL(5) ? DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")) : PG_GETARG_DATUM(5);
	values[6] = BoolGetDatum(digital);
	values[7] = BoolGetDatum(backorder);
	values[8] = PG_ARGISNULL(8) ? (nulls[8] = 'n', (Datum) 0) : Int32GetDatum(buckets);
	values[9] = PG_ARGISNULL(9) ? (nulls[9] = 'n', (Datum) 0) : PG_GETARG_DATUM(9);
	values[10] = TimestampTzGetDatum(om_now());
	om_plan(&sku_plan,
			"INSERT INTO order_mgmt.sku AS k (shop_id, sku, price, product_id, title, attrs,"
			" digital, allow_backorder, stock_buckets, admission_queue, created_at, updated_at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)"
			" ON CONFLICT (shop_id, sku) DO UPDATE SET price = EXCLUDED.price,"
			" product_id = EXCLUDED.product_id, title = EXCLUDED.title, attrs = EXCLUDED.attrs,"
			" digital = EXCLUDED.digital, allow_backorder = EXCLUDED.allow_backorder,"
			" stock_buckets = EXCLUDED.stock_buckets, admission_queue = EXCLUDED.admission_queue,"
			" updated_at = EXCLUDED.updated_at",
			11, sku_types);
	om_exec(sku_plan, values, nulls, false, 0);

	/* lock the SKU's stock rows in bucket order, as every path does */
	om_plan(&lock_plan,
			"SELECT 1 FROM order_mgmt.stock WHERE shop_id = $1 AND sku = $2"
			" ORDER BY bucket FOR NO KEY UPDATE",
			2, stock_types);
	om_exec(lock_plan, values, NULL, false, 0);

	/* turning backorder off needs every bucket within its on_hand */
	values[2] = BoolGetDatum(backorder);
	if (!backorder)
	{
		om_plan(&oversold_plan,
				"SELECT sum(on_hand)::int8, sum(reserved)::int8 FROM order_mgmt.stock"
				" WHERE shop_id = $1 AND sku = $2 AND reserved > on_hand",
				2, stock_types);
		om_exec(oversold_plan, values, NULL, true, 1);
		(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
		{
			int64		on_hand = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			int64		reserved = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

			ereport(ERROR,
					(errcode(ERRCODE_OM_INSUFFICIENT_STOCK),
					 errmsg("cannot turn off backorder for sku \"%s\": it is sold beyond its stock", sku),
					 errdetail("SKU %s: reserved " INT64_FORMAT ", on_hand " INT64_FORMAT ", available " INT64_FORMAT ".",
							   sku, reserved, on_hand, on_hand - reserved),
					 errhint("Raise its stock with order_mgmt.set_stock() first.")));
		}
	}
	om_plan(&backorder_plan,
			"UPDATE order_mgmt.stock SET backorder = $3"
			" WHERE shop_id = $1 AND sku = $2 AND backorder <> $3",
			3, stock_types);
	om_exec(backorder_plan, values, NULL, false, 0);

	if (!digital)
	{
		values[3] = Int32GetDatum(buckets);
		om_plan(&buckets_plan,
				"INSERT INTO order_mgmt.stock (shop_id, sku, bucket, backorder)"
				" SELECT $1, $2, b, $3 FROM pg_catalog.generate_series(0, $4 - 1) AS b"
				" ON CONFLICT (shop_id, sku, bucket) DO NOTHING",
				4, bucket_types);
		om_exec(buckets_plan, values, NULL, false, 0);
	}

	SPI_finish();
	PG_RETURN_VOID();
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
	static SPIPlanPtr sku_plan = NULL;
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr write_plan = NULL;
	static SPIPlanPtr log_plan = NULL;
	static const Oid key_types[] = {INT8OID, TEXTOID};
	static const Oid write_types[] = {INT8OID, TEXTOID, INT4ARRAYOID, INT4ARRAYOID, BOOLOID};
	static const Oid log_types[] = {INT8OID, TEXTOID, INT4OID, INT4OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7];
	bool		isnull;
	bool		backorder;
	int			k;
	int			nb;
	int64		on_hand = 0;
	int64		reserved = 0;
	int64		target;
	int64		free_units;
	int32	   *bucket_reserved;
	Datum	   *out_bucket;
	Datum	   *out_on_hand;
	uint64		i;
	int			b;

	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(sku);

	om_plan(&sku_plan,
			"SELECT k.allow_backorder, coalesce(k.stock_buckets, s.stock_buckets)"
			" FROM order_mgmt.sku k JOIN order_mgmt.shop s ON s.shop_id = k.shop_id"
			" WHERE k.shop_id = $1 AND k.sku = $2",
			2, key_types);
	om_exec(sku_plan, values, NULL, true, 1);
	if (SPI_processed == 0)
	{
		om_require_shop(shop_id);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sku \"%s\" does not exist in shop " INT64_FORMAT, sku, shop_id),
				 errhint("Create it with order_mgmt.upsert_sku().")));
	}
	backorder = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	k = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

	/* lock every bucket, in bucket order */
	om_plan(&lock_plan,
			"SELECT bucket, on_hand, reserved FROM order_mgmt.stock"
			" WHERE shop_id = $1 AND sku = $2 ORDER BY bucket FOR NO KEY UPDATE",
			2, key_types);
	om_exec(lock_plan, values, NULL, false, 0);

	nb = k;
	for (i = 0; i < SPI_processed; i++)
	{
		int			bucket = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

		nb = Max(nb, bucket + 1);
	}
	bucket_reserved = palloc0(sizeof(int32) * nb);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		int			bucket = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));

		on_hand += DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
		bucket_reserved[bucket] = DatumGetInt32(SPI_getbinval(tup, td, 3, &isnull));
		reserved += bucket_reserved[bucket];
	}

	target = is_delta ? on_hand + amount : amount;
	if (target > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("on_hand of sku \"%s\" would be out of range", sku),
				 errdetail("SKU %s: on_hand " INT64_FORMAT ", change %d.", sku, on_hand, amount)));
	if ((target < reserved && !backorder) || target < 0)
	{
		if (is_delta)
			ereport(ERROR,
					(errcode(ERRCODE_OM_INSUFFICIENT_STOCK),
					 errmsg("cannot adjust stock of sku \"%s\" by %d: it would fall below its reserved units", sku, amount),
					 errdetail("SKU %s: requested on_hand " INT64_FORMAT ", reserved " INT64_FORMAT ", available " INT64_FORMAT ".",
							   sku, target, reserved, on_hand - reserved),
					 errhint("Ship or release the orders holding it first%s.",
							 backorder ? "" : ", or allow backorder for this SKU")));
		else
			ereport(ERROR,
					(errcode(ERRCODE_OM_INSUFFICIENT_STOCK),
					 errmsg("cannot set stock of sku \"%s\" below its reserved units", sku),
					 errdetail("SKU %s: requested on_hand " INT64_FORMAT ", reserved " INT64_FORMAT ", available " INT64_FORMAT ".",
							   sku, target, reserved, on_hand - reserved),
					 errhint("Ship or release the orders holding it first, or allow backorder for this SKU.")));
	}

	/* spread: buckets below k share the free units; the rest drain */
	out_bucket = palloc(sizeof(Datum) * nb);
	out_on_hand = palloc(sizeof(Datum) * nb);
	free_units = target - reserved;
	for (b = 0; b < nb; b++)
	{
		int64		units;

		if (free_units >= 0)
			units = bucket_reserved[b] +
				(b < k ? free_units / k + (b < free_units % k ? 1 : 0) : 0);
		else					/* backorder sold beyond stock */
			units = b < k ? target / k + (b < target % k ? 1 : 0) : 0;
		out_bucket[b] = Int32GetDatum(b);
		out_on_hand[b] = Int32GetDatum((int32) units);
	}

	values[2] = PointerGetDatum(construct_array(out_bucket, nb, INT4OID, 4, true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(out_on_hand, nb, INT4OID, 4, true, TYPALIGN_INT));
	values[4] = BoolGetDatum(backorder);
	om_plan(&write_plan,
			"INSERT INTO order_mgmt.stock AS s (shop_id, sku, bucket, on_hand, backorder)"
			" SELECT $1, $2, b.bucket, b.on_hand, $5"
			" FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS b(bucket, on_hand)"
			" ON CONFLICT (shop_id, sku, bucket) DO UPDATE SET on_hand = EXCLUDED.on_hand"
			" WHERE s.on_hand <> EXCLUDED.on_hand",
			5, write_types);
	om_exec(write_plan, values, NULL, false, 0);

	if (target != on_hand)
	{
		memset(nulls, ' ', sizeof(nulls));
		values[2] = Int32GetDatum((int32) (target - on_hand));
		values[3] = Int32GetDatum((int32) target);
		if (note)
			values[4] = CStringGetTextDatum(note);
		else
			nulls[4] = 'n';
		values[5] = CStringGetTextDatum(om_actor());
		values[6] = TimestampTzGetDatum(om_now());
		om_plan(&log_plan,
				"INSERT INTO order_mgmt.stock_log (shop_id, sku, delta, on_hand, note, actor, at)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7)",
				7, log_types);
		om_exec(log_plan, values, nulls, false, 0);
	}
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

	OM_ARG_NOT_NULL(0, "shop_id");
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

	OM_ARG_NOT_NULL(0, "shop_id");
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
