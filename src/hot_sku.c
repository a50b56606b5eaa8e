/*-------------------------------------------------------------------------
 *
 * hot_sku.c
 *	  A hot SKU spreads itself (issue 21): contention is counted where a
 *	  hold meets it, and balance_buckets() gives a contended SKU more
 *	  stock buckets and merges them back when it cools.
 *
 * Which SKUs: those whose bucket count is left to the defaults (no
 * sku.stock_buckets, shop.stock_buckets 1) in a shop whose
 * auto_buckets_max is above 1 (the default 16; 1 turns it off).  A
 * merchant's stock_buckets always wins: such a SKU is never changed here,
 * and one that was spread before is merged back.  The SKU's automatic
 * count is sku.auto_buckets (NULL = 1), which checkout and set_stock read
 * as K (OM_SKU_BUCKETS_SQL, stock.h).
 *
 * Measuring, in the checkout, cheaply and off the hot row: a hold is
 * contended when it has to wait for a transaction that holds the SKU's
 * stock.  With K > 1 buckets (or an admission queue) that is a hold whose
 * SKIP LOCKED attempt found every bucket with enough units busy and which
 * then got its units by waiting (reservation.c); with one bucket it is a
 * hold that finds the SKU's probe lock taken (om_hot_busy): a
 * transaction-scoped heavyweight lock on (shop, sku) that each hold of such
 * a SKU takes without waiting (LockAcquire dontWait, no WAL, no row
 * written; a LOCKTAG_USERLOCK no SQL role can take, as the admission
 * queue's, with its own tag; at most 8 SKUs of one cart, OM_HOT_PROBES).  Each session adds its counts up in memory
 * (per SKU, at most OM_HEAT_SKUS of them) and writes them to the unlogged
 * table sku_heat once per order_mgmt.hot_flush_every counted holds (32), one
 * row per live backend (slot = its backend number), so sessions never wait
 * for each other there and the stock row is never written for it.  Holds
 * of a SKU already spread are counted too (holds), so a SKU can be seen to
 * cool although, spread, it no longer contends.  No shared memory: it works
 * whether or not order_mgmt is in shared_preload_libraries.  A crash
 * empties sku_heat and a rolled-back checkout loses its session's flush:
 * both only restart the measuring, never touch stock.
 *
 * Deciding, in balance_buckets(shop_id), which the sweeper calls once per
 * sweep_interval for the shops with heat (without the sweeper, a cron job
 * calls it): per SKU, the window runs from the start balance_buckets()
 * marked (slot 0), or else the earliest since of its heat rows, to
 * order_mgmt.now() (at least 1 second).  Hysteresis:
 *	- split when contended holds per second >= order_mgmt.hot_split_rate
 *	  (50): K doubles (1, 2, 4, ... up to shop.auto_buckets_max, never
 *	  above OM_MAX_BUCKETS);
 *	- merge when a spread SKU's window is at least order_mgmt.hot_cool_time
 *	  (60 s) old and its holds per second (all of them, not only the
 *	  contended: spread, a hot SKU no longer contends) are below a quarter
 *	  of hot_split_rate: K halves (back to NULL at 1);
 *	- a SKU no longer eligible (a stock_buckets set, the shop's default
 *	  raised, auto_buckets_max lowered to 1) goes back to its configured
 *	  K at once, and one above a lowered auto_buckets_max down to it.
 * After a change, and when a window reaches hot_cool_time, the SKU's heat
 * rows are reset (SKIP LOCKED: a row a checkout is writing stays for the
 * next window) and a slot 0 row marks the new window's start.
 *
 * Changing: outside any checkout, each SKU in its own subtransaction:
 * first the sku row (auto_buckets, the lock order of upsert_sku: sku row,
 * then stock rows), then om_respread_stock() (inventory.c) locks the SKU's
 * stock rows in bucket order, as set_stock does, and moves free units
 * only, so on_hand and reserved over all buckets never change; buckets
 * beyond the new K keep their reserved units until their holds resolve.
 * It waits for the checkouts holding those rows, at most lock_timeout (1 s
 * when the caller has none); a SKU it cannot lock is left for the next
 * call.  Checkouts meanwhile wait for the locked rows as for set_stock;
 * the last-resort path that locks every bucket reads them again when a
 * concurrent split or merge moved units out of its snapshot's sight
 * (HoldSpread, reservation.c), so no false "sold out" and, every hold being
 * a conditional UPDATE of the newest row, no oversell.  Each change writes
 * a stock_log row (delta 0, note "auto_buckets 1 -> 2 ...") and a LOG line.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "clock.h"
#include "compat.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "rls.h"
#include "shop.h"
#include "spi_util.h"
#include "stock.h"

#define OM_HOT_LOCK_TAG 0x4F48		/* "OH": order_mgmt's hot-SKU probe */
#define OM_HEAT_SKUS	16			/* SKUs a session counts at once */

static int	hot_flush_every = 32;
static double hot_split_rate = 50.0;
static int	hot_cool_time = 60;		/* seconds */

void
om_hot_define_gucs(void)
{
	DefineCustomIntVariable("order_mgmt.hot_flush_every",
							"Sets how many counted holds of a SKU a session adds up before writing them to order_mgmt.sku_heat.",
							NULL,
							&hot_flush_every,
							32, 1, 1000000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomRealVariable("order_mgmt.hot_split_rate",
							 "Sets the contended holds per second from which balance_buckets() gives a SKU more buckets.",
							 "It merges them back when the SKU's holds per second stay below a quarter of it for order_mgmt.hot_cool_time.",
							 &hot_split_rate,
							 50.0, 0.001, 1000000.0,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("order_mgmt.hot_cool_time",
							"Sets how long a spread SKU must stay cool before balance_buckets() merges its buckets.",
							NULL,
							&hot_cool_time,
							60, 1, 86400,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

/*
 * One-bucket SKUs: take the SKU's probe lock without waiting, to the end
 * of the transaction; true when another transaction holds it (this hold
 * will wait for the stock row).
 */
bool
om_hot_busy(int64 shop_id, const char *sku)
{
	LOCKTAG		tag;

	tag.locktag_field1 = MyDatabaseId;
	tag.locktag_field2 = (uint32) shop_id ^ (uint32) ((uint64) shop_id >> 32);
	tag.locktag_field3 = hash_bytes((const unsigned char *) sku, strlen(sku));
	tag.locktag_field4 = OM_HOT_LOCK_TAG;
	tag.locktag_type = LOCKTAG_USERLOCK;
	tag.locktag_lockmethodid = USER_LOCKMETHOD;
	return LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL;
}

/* A session's counts of one SKU, not yet in sku_heat. */
typedef struct HeatCount
{
	int64		shop_id;
	char	   *sku;			/* in TopMemoryContext; NULL = free */
	int64		contended;
	int64		holds;
	TimestampTz since;
} HeatCount;

static HeatCount heat[OM_HEAT_SKUS];

/* Add c's counts to the session's row of sku_heat, and forget them.  Inside SPI. */
static void
FlushHeat(HeatCount *c)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[] = {INT8OID, TEXTOID, INT4OID, INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		values[6];

	if (om_has_column("sku_heat", "holds"))
	{
		om_plan(&plan,
				"INSERT INTO order_mgmt.sku_heat AS h (shop_id, sku, slot, contended, holds, since)"
				" VALUES ($1, $2, $3, $4, $5, $6)"
				" ON CONFLICT (shop_id, sku, slot) DO UPDATE"
				" SET contended = h.contended + EXCLUDED.contended, holds = h.holds + EXCLUDED.holds",
				6, types);
		values[0] = Int64GetDatum(c->shop_id);
		values[1] = CStringGetTextDatum(c->sku);
		values[2] = Int32GetDatum(OM_MY_BACKEND_NUMBER());
		values[3] = Int64GetDatum(c->contended);
		values[4] = Int64GetDatum(c->holds);
		values[5] = TimestampTzGetDatum(c->since);
		om_exec(plan, values, NULL, false, 0);
	}
	c->contended = 0;
	c->holds = 0;
}

/*
 * A hold of an auto-spread SKU (OmHold.auto_spread): count it if it was
 * contended, or the SKU is spread already; write the session's counts once
 * they reach hot_flush_every.  Inside SPI.
 */
void
om_hot_note(int64 shop_id, const char *sku, bool contended, bool spread)
{
	HeatCount  *c = NULL;
	HeatCount  *least = &heat[0];
	int			i;

	if (!contended && !spread)
		return;
	for (i = 0; i < OM_HEAT_SKUS; i++)
	{
		HeatCount  *h = &heat[i];

		if (h->sku != NULL && h->shop_id == shop_id && strcmp(h->sku, sku) == 0)
		{
			c = h;
			break;
		}
		if (h->sku == NULL || h->contended + h->holds < least->contended + least->holds)
			least = h;
	}
	if (c == NULL)
	{
		/* a free entry, or the one with the fewest counts is dropped */
		c = least;
		if (c->sku != NULL)
			pfree(c->sku);
		c->shop_id = shop_id;
		c->sku = MemoryContextStrdup(TopMemoryContext, sku);
		c->contended = 0;
		c->holds = 0;
	}
	if (c->contended + c->holds == 0)
		c->since = om_now();
	c->contended += contended ? 1 : 0;
	c->holds += spread ? 1 : 0;
	if (c->contended + c->holds >= hot_flush_every)
		FlushHeat(c);
}

/* A SKU balance_buckets() looks at. */
typedef struct HotSku
{
	char	   *sku;
	int32		cur;			/* auto_buckets, 1 when NULL */
	bool		eligible;		/* OM_SKU_AUTO_SQL */
	int32		max;			/* shop.auto_buckets_max */
	int64		contended;
	int64		holds;
	bool		has_since;
	TimestampTz since;
} HotSku;

/* The shop's SKUs with heat rows or automatic buckets, in lock order.  Inside SPI. */
static HotSku *
LoadHotSkus(int64 shop_id, int *n)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[] = {INT8OID};
	Datum		values[1];
	HotSku	   *skus;
	uint64		i;

	om_plan(&plan,
			"WITH h AS (SELECT sku, sum(contended)::int8 AS contended, sum(holds)::int8 AS holds,"
			"    coalesce(max(since) FILTER (WHERE slot = 0), min(since)) AS since"
			"   FROM order_mgmt.sku_heat WHERE shop_id = $1 GROUP BY sku),"
			" c AS (SELECT sku FROM h"
			"   UNION SELECT sku FROM order_mgmt.sku WHERE shop_id = $1 AND auto_buckets IS NOT NULL)"
			" SELECT k.sku, coalesce(k.auto_buckets, 1), " OM_SKU_AUTO_SQL ", s.auto_buckets_max,"
			" coalesce(h.contended, 0), coalesce(h.holds, 0), h.since"
			" FROM c JOIN order_mgmt.sku k ON k.shop_id = $1 AND k.sku = c.sku"
			" JOIN order_mgmt.shop s ON s.shop_id = $1"
			" LEFT JOIN h ON h.sku = c.sku"
			" ORDER BY k.sku COLLATE \"C\"",
			1, types);
	values[0] = Int64GetDatum(shop_id);
	om_exec(plan, values, NULL, true, 0);
	*n = (int) SPI_processed;
	skus = palloc0(sizeof(HotSku) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		HotSku	   *k = &skus[i];
		bool		isnull;
		Datum		d;

		k->sku = TextDatumGetCString(SPI_getbinval(tup, td, 1, &isnull));
		k->cur = DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
		k->eligible = DatumGetBool(SPI_getbinval(tup, td, 3, &isnull));
		k->max = Min(DatumGetInt32(SPI_getbinval(tup, td, 4, &isnull)), OM_MAX_BUCKETS);
		k->contended = DatumGetInt64(SPI_getbinval(tup, td, 5, &isnull));
		k->holds = DatumGetInt64(SPI_getbinval(tup, td, 6, &isnull));
		d = SPI_getbinval(tup, td, 7, &isnull);
		k->has_since = !isnull;
		k->since = isnull ? 0 : DatumGetTimestampTz(d);
	}
	return skus;
}

/*
 * Start the SKU's next window: its heat rows go (those a checkout is
 * writing stay, SKIP LOCKED), and for a SKU that keeps automatic buckets
 * a slot 0 row marks the window's start.  Inside SPI.
 */
static void
ResetHeat(int64 shop_id, const char *sku, bool mark)
{
	static SPIPlanPtr delete_plan = NULL;
	static SPIPlanPtr mark_plan = NULL;
	static const Oid types[] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];

	om_plan(&delete_plan,
			"DELETE FROM order_mgmt.sku_heat WHERE shop_id = $1 AND sku = $2"
			" AND slot IN (SELECT slot FROM order_mgmt.sku_heat WHERE shop_id = $1 AND sku = $2"
			"   FOR UPDATE SKIP LOCKED)",
			2, types);
	om_plan(&mark_plan,
			"INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, since) VALUES ($1, $2, 0, $3)"
			" ON CONFLICT (shop_id, sku, slot) DO UPDATE SET since = EXCLUDED.since",
			3, types);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(sku);
	values[2] = TimestampTzGetDatum(om_now());
	om_exec(delete_plan, values, NULL, false, 0);
	if (mark)
		om_exec(mark_plan, values, NULL, false, 0);
}

/* A SKU's new automatic bucket count, for ApplyBuckets() in a subtransaction. */
typedef struct BucketChange
{
	int64		shop_id;
	const char *sku;
	int32		cur;
	int32		target;
	const char *why;
} BucketChange;

static void
ApplyBuckets(void *arg)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[] = {INT8OID, TEXTOID, INT4OID};
	BucketChange *c = arg;
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	char	   *note;
	int32		on_hand;

	/* the sku row first (upsert_sku's lock order), then its stock rows */
	om_plan(&plan,
			"UPDATE order_mgmt.sku SET auto_buckets = $3 WHERE shop_id = $1 AND sku = $2",
			3, types);
	values[0] = Int64GetDatum(c->shop_id);
	values[1] = CStringGetTextDatum(c->sku);
	values[2] = Int32GetDatum(c->target);
	nulls[2] = c->target > 1 ? ' ' : 'n';
	om_exec(plan, values, nulls, false, 0);
	note = psprintf("auto_buckets %d -> %d (%s)", c->cur, c->target, c->why);
	on_hand = om_respread_stock(c->shop_id, c->sku, note);
	ereport(LOG,
			(errmsg("order_mgmt: sku \"%s\" of shop " INT64_FORMAT " now has %d stock buckets",
					c->sku, c->shop_id, c->target),
			 errdetail("Was %d: %s; on_hand %d.", c->cur, c->why, on_hand)));
}

/*
 * The bucket count k should have now, and why (for the log); k->cur when
 * it stays.
 */
static int32
TargetBuckets(const HotSku *k, double window, char **why)
{
	double		contended_rate = k->contended / window;
	double		hold_rate = k->holds / window;

	if (!k->eligible || k->max <= 1)
	{
		*why = pstrdup("automatic buckets do not apply to it any more");
		return 1;
	}
	if (k->cur > k->max)
	{
		*why = psprintf("auto_buckets_max is %d", k->max);
		return k->max;
	}
	if (contended_rate >= hot_split_rate && k->cur < k->max)
	{
		*why = psprintf("%.1f contended holds/s", contended_rate);
		return Min(k->cur * 2, k->max);
	}
	if (k->cur > 1 && window >= hot_cool_time && hold_rate < hot_split_rate / 4)
	{
		*why = psprintf("%.1f holds/s for %.0f s", hold_rate, window);
		return k->cur / 2;
	}
	return k->cur;
}

/*
 * balance_buckets(shop_id) -> int: split the shop's hot SKUs and merge the
 * cooled ones (see the header); returns how many SKUs it changed.
 */
PG_FUNCTION_INFO_V1(om_balance_buckets);
Datum
om_balance_buckets(PG_FUNCTION_ARGS)
{
	static const int busy[] = {ERRCODE_LOCK_NOT_AVAILABLE, ERRCODE_T_R_DEADLOCK_DETECTED};
	int64		shop_id;
	HotSku	   *skus;
	int			n;
	int			i;
	int			changed = 0;
	int			nest;
	TimestampTz now = om_now();

	OM_SHOP_ARG(0);
	shop_id = PG_GETARG_INT64(0);
	om_require_column("sku", "auto_buckets", "balance_buckets()");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_require_shop(shop_id);

	/* wait for a hot SKU's checkouts, but not for ever */
	nest = NewGUCNestLevel();
	if (LockTimeout == 0)
		(void) set_config_option("lock_timeout", "1s", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);

	skus = LoadHotSkus(shop_id, &n);
	for (i = 0; i < n; i++)
	{
		HotSku	   *k = &skus[i];
		double		window;
		char	   *why = NULL;
		int32		target;

		if (!k->has_since)
		{
			/* spread, but no window (a crash emptied sku_heat): start one */
			ResetHeat(shop_id, k->sku, true);
			continue;
		}
		window = Max((double) (now - k->since) / USECS_PER_SEC, 1.0);
		target = TargetBuckets(k, window, &why);
		if (target != k->cur)
		{
			BucketChange c = {shop_id, k->sku, k->cur, target, why};

			if (!om_try(ApplyBuckets, &c, busy, lengthof(busy), NULL))
				continue;		/* its rows are busy: the next call */
			changed++;
			ResetHeat(shop_id, k->sku, target > 1);
		}
		else if (window >= hot_cool_time)
			ResetHeat(shop_id, k->sku, k->cur > 1);
	}

	AtEOXact_GUC(true, nest);
	SPI_finish();
	PG_RETURN_INT32(changed);
}
