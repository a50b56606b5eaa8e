/*-------------------------------------------------------------------------
 *
 * reservation.c
 *	  Holding, releasing and committing stock (SPEC §4.1-4.4, §4.6), all
 *	  at once or, for a package of some of an order's lines, per line.
 *
 * Every unit an order holds is a 'held' row of order_mgmt.reservation and
 * is counted in stock.reserved of the bucket it was taken from; verify()
 * checks the two agree.
 *
 * Holding takes, per SKU, one bucket with enough available, by a
 * conditional UPDATE (WHERE backorder OR on_hand - reserved >= qty), which
 * under READ COMMITTED waits for a concurrent holder and re-checks the
 * newest row version, so it cannot oversell.  With K buckets it first tries
 * one that nobody has locked (SKIP LOCKED, starting at a random bucket so
 * that K checkouts proceed at once); when all are busy it waits for one
 * random bucket that has enough, like a checkout of a one-bucket SKU; and
 * only if that bucket has run short meanwhile it locks all of them in
 * bucket order and takes the units wherever they are left, so stock in any
 * bucket still sells (no false "sold out"; it looks twice when a split or
 * merge of the buckets moved units out of its snapshot's sight).  K may be
 * automatic (hot_sku.c): for such a SKU each hold tells om_hot_note()
 * whether it was contended, i.e. found every bucket with enough units busy
 * and got them by waiting (with one bucket: found the SKU's probe lock,
 * om_hot_busy(), taken).  With an admission queue a
 * transaction-scoped lock on (shop, SKU, bucket) that no SQL role can take
 * (see Queue) is taken before waiting for that bucket's row, so waiters
 * queue there instead of on the row.
 *
 * Lock order (all paths): the order row, then a promo code row, then stock
 * rows in (sku COLLATE "C", bucket) order.  Callers pass SKUs sorted with
 * strcmp.  When the acting context says nowait (the sweeper) stock rows are locked with
 * NOWAIT, and a busy row raises lock_not_available for the caller to skip.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "clock.h"
#include "compat.h"
#include "context.h"
#include "events.h"
#include "om_errcodes.h"
#include "sort_merge.h"
#include "spi_util.h"
#include "stock.h"
#include "sweep.h"

static bool HoldFromBucketParts(int64 shop_id, int64 order_id, int64 return_id,
								const char *sku, int32 qty, int32 bucket);
static SPIPlanPtr hold_plan = NULL;

/*
 * Take qty units from one bucket if it has them; returns whether it did.
 * Writes the reservation row in the same statement.
 */
static bool
HoldFromBucket(int64 shop_id, int64 order_id, int64 return_id, const char *sku, int32 qty,
			   int32 bucket)
{
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, INT4OID, TIMESTAMPTZOID, INT4OID, INT8OID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	if (om_on_citus())
		return HoldFromBucketParts(shop_id, order_id, return_id, sku, qty, bucket);
	om_plan(&hold_plan,
			"WITH s AS (UPDATE order_mgmt.stock SET reserved = reserved + $4"
			"  WHERE shop_id = $1 AND sku = $3 AND bucket = $6"
			"    AND (backorder OR on_hand - reserved >= $4) RETURNING bucket)"
			" INSERT INTO order_mgmt.reservation (shop_id, order_id, return_id, sku, bucket, qty, created_at)"
			" SELECT $1, $2, $7, $3, s.bucket, $4, $5 FROM s",
			7, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = CStringGetTextDatum(sku);
	values[3] = Int32GetDatum(qty);
	values[4] = TimestampTzGetDatum(om_now());
	values[5] = Int32GetDatum(bucket);
	values[6] = Int64GetDatum(return_id);
	nulls[6] = return_id ? ' ' : 'n';
	om_exec(hold_plan, values, nulls, false, 0);
	return SPI_processed == 1;
}

/*
 * HoldFromBucket() on Citus: the stock row's UPDATE, then the reservation's
 * INSERT ... VALUES, each routed to the shop's shard with its plan kept
 * (the one statement's INSERT ... SELECT over a CTE is planned on every
 * call there).
 */
static bool
HoldFromBucketParts(int64 shop_id, int64 order_id, int64 return_id, const char *sku,
					int32 qty, int32 bucket)
{
	static SPIPlanPtr take_plan = NULL;
	static SPIPlanPtr insert_plan = NULL;
	static const Oid take_types[] = {INT8OID, TEXTOID, INT4OID, INT4OID};
	static const Oid insert_types[] = {INT8OID, INT8OID, INT8OID, TEXTOID, INT4OID, INT4OID,
	TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	om_plan(&take_plan,
			"UPDATE order_mgmt.stock SET reserved = reserved + $3"
			" WHERE shop_id = $1 AND sku = $2 AND bucket = $4"
			"   AND (backorder OR on_hand - reserved >= $3)",
			4, take_types);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(sku);
	values[2] = Int32GetDatum(qty);
	values[3] = Int32GetDatum(bucket);
	om_exec(take_plan, values, NULL, false, 0);
	if (SPI_processed != 1)
		return false;

	om_plan(&insert_plan,
			"INSERT INTO order_mgmt.reservation (shop_id, order_id, return_id, sku, bucket, qty, created_at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7)",
			7, insert_types);
	values[1] = Int64GetDatum(order_id);
	values[2] = Int64GetDatum(return_id);
	nulls[2] = return_id ? ' ' : 'n';
	values[3] = CStringGetTextDatum(sku);
	values[4] = Int32GetDatum(bucket);
	values[5] = Int32GetDatum(qty);
	values[6] = TimestampTzGetDatum(om_now());
	om_exec(insert_plan, values, nulls, false, 0);
	return true;
}

/* K buckets: take qty from one unlocked bucket with enough; returns the bucket or -1. */
static int32
HoldFromFreeBucket(int64 shop_id, int64 order_id, int64 return_id, const char *sku, int32 qty,
				   int32 nbuckets)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, INT4OID, TIMESTAMPTZOID, INT4OID, INT4OID, INT8OID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;

	om_plan(&plan,
			"WITH pick AS (SELECT bucket FROM order_mgmt.stock"
			"    WHERE shop_id = $1 AND sku = $3 AND (backorder OR on_hand - reserved >= $4)"
			"    ORDER BY (bucket + $6) % $7 LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED),"
			" s AS (UPDATE order_mgmt.stock t SET reserved = t.reserved + $4 FROM pick"
			"    WHERE t.shop_id = $1 AND t.sku = $3 AND t.bucket = pick.bucket RETURNING t.bucket)"
			" INSERT INTO order_mgmt.reservation (shop_id, order_id, return_id, sku, bucket, qty, created_at)"
			" SELECT $1, $2, $8, $3, s.bucket, $4, $5 FROM s RETURNING bucket",
			8, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = CStringGetTextDatum(sku);
	values[3] = Int32GetDatum(qty);
	values[4] = TimestampTzGetDatum(om_now());
	values[5] = Int32GetDatum((int32) (OM_RANDOM_UINT32() % (uint32) nbuckets));
	values[6] = Int32GetDatum(nbuckets);
	values[7] = Int64GetDatum(return_id);
	nulls[7] = return_id ? ' ' : 'n';
	om_exec(plan, values, nulls, false, 0);
	if (SPI_processed != 1)
		return -1;
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * K buckets, all held by others: a bucket that has enough units in the
 * newest committed state, starting at a random one (no lock); -1 if none.
 */
static int32
PickBucket(int64 shop_id, const char *sku, int32 qty, int32 nbuckets)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID, INT4OID, INT4OID, INT4OID};
	Datum		values[5];
	bool		isnull;

	om_plan(&plan,
			"SELECT bucket FROM order_mgmt.stock"
			" WHERE shop_id = $1 AND sku = $2 AND (backorder OR on_hand - reserved >= $3)"
			" ORDER BY (bucket + $4) % $5 LIMIT 1",
			5, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(sku);
	values[2] = Int32GetDatum(qty);
	values[3] = Int32GetDatum((int32) (OM_RANDOM_UINT32() % (uint32) nbuckets));
	values[4] = Int32GetDatum(nbuckets);
	om_exec(plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		return -1;
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

typedef struct WaitArgs
{
	int64		shop_id;
	int64		order_id;
	int64		return_id;
	const char *sku;
	int32		qty;
	int32		bucket;
} WaitArgs;

static void
WaitAndHold(void *arg)
{
	WaitArgs   *a = arg;

	if (!HoldFromBucket(a->shop_id, a->order_id, a->return_id, a->sku, a->qty, a->bucket))
		ereport(ERROR, (errcode(ERRCODE_OM_INSUFFICIENT_STOCK),
						errmsg("bucket %d of sku \"%s\" ran short", a->bucket, a->sku)));
}

/*
 * Wait for one bucket of K and take qty from it, in a subtransaction that
 * is rolled back if the bucket ran short meanwhile.  An UPDATE that waited
 * for a concurrent one and then finds its condition false still keeps the
 * newest row version locked; the rollback lets that lock go, so the slow
 * path after it locks the buckets in bucket order from none held, and two
 * checkouts cannot deadlock over the buckets.
 */
static bool
HoldWaiting(int64 shop_id, int64 order_id, int64 return_id, const char *sku, int32 qty,
			int32 bucket)
{
	static const int short_codes[] = {ERRCODE_OM_INSUFFICIENT_STOCK};
	WaitArgs	a = {shop_id, order_id, return_id, sku, qty, bucket};

	return om_try(WaitAndHold, &a, short_codes, 1, NULL);
}

/*
 * The admission queue (SPEC §4.4): before waiting for a stock row, wait in
 * line for a transaction-scoped heavyweight lock on (shop, sku, bucket).
 * Waiters on a heavyweight lock are granted one at a time in order, where
 * waiters on a row all wake at each commit and race for it again.  One
 * queue per bucket, so the queue never serializes what the buckets spread.
 *
 * The lock is a LOCKTAG_USERLOCK lock (pg_locks: locktype 'userlock'), the
 * tag type PostgreSQL reserves for add-on code: no SQL function takes it,
 * so no role, whatever it may call, can hold a checkout in this queue, and
 * an application's advisory locks never collide with it (issue 15).  The
 * fields: the database (so each database has its own queues, as before),
 * the shop id folded to 32 bits (the shop id itself below 2^32), a hash of
 * sku and bucket, and OM_QUEUE_LOCK_TAG, which marks the lock as
 * order_mgmt's among any other module's userlocks.  A hash collision only
 * puts two buckets in one line.  Like pg_advisory_xact_lock it is released
 * at the end of the transaction (or of the subtransaction that took it, if
 * that aborts), the deadlock detector sees it, and lock_timeout applies.
 */
#define OM_QUEUE_LOCK_TAG 0x4F51		/* "OQ": order_mgmt's admission queue */

static void
Queue(int64 shop_id, const char *sku, int32 bucket)
{
	LOCKTAG		tag;
	uint32		key = hash_bytes((const unsigned char *) sku, strlen(sku));

	key = hash_combine(key, hash_bytes_uint32((uint32) bucket));
	tag.locktag_field1 = MyDatabaseId;
	tag.locktag_field2 = (uint32) shop_id ^ (uint32) ((uint64) shop_id >> 32);
	tag.locktag_field3 = key;
	tag.locktag_field4 = OM_QUEUE_LOCK_TAG;
	tag.locktag_type = LOCKTAG_USERLOCK;
	tag.locktag_lockmethodid = USER_LOCKMETHOD;
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

static void
InsufficientStock(const char *sku, int64 requested, int64 available)
{
	ereport(ERROR,
			(errcode(ERRCODE_OM_INSUFFICIENT_STOCK),
			 errmsg("insufficient stock for sku \"%s\"", sku),
			 errdetail("SKU %s: requested " INT64_FORMAT ", available " INT64_FORMAT ".",
					   sku, requested, Max(available, 0)),
			 errhint("Lower the quantity, or raise the stock with order_mgmt.set_stock().")));
}

/*
 * Where om_hold_stock() reports its holds: JSON text appended to str, or
 * jsonb values pushed onto *js (checkout builds its event's detail as
 * jsonb, issue 21), or neither.
 */
typedef struct HoldOut
{
	StringInfo	str;
	JsonbParseState **js;
} HoldOut;

static void AppendHold(StringInfo holds, const char *sku, int32 bucket, int32 qty);

/* Push one {"sku", "bucket", "qty"} object onto *js (inside an open array). */
static void
PushHold(JsonbParseState **js, const char *sku, int32 bucket, int32 qty)
{
	pushJsonbValue(js, WJB_BEGIN_OBJECT, NULL);
	om_jsonb_push_string(js, "sku", sku);
	om_jsonb_push_int(js, "bucket", bucket);
	om_jsonb_push_int(js, "qty", qty);
	pushJsonbValue(js, WJB_END_OBJECT, NULL);
}

static void
ReportHold(const HoldOut *out, const char *sku, int32 bucket, int32 qty)
{
	if (out->js != NULL)
		PushHold(out->js, sku, bucket, qty);
	else
		AppendHold(out->str, sku, bucket, qty);
}

static void
AppendHold(StringInfo holds, const char *sku, int32 bucket, int32 qty)
{
	if (holds == NULL)
		return;
	/* the caller opened the array: a comma before all but the first */
	if (holds->len > 0 && holds->data[holds->len - 1] != '[')
		appendStringInfoString(holds, ", ");
	appendStringInfoString(holds, "{\"sku\": ");
	escape_json(holds, sku);
	appendStringInfo(holds, ", \"bucket\": %d, \"qty\": %d}", bucket, qty);
}

/*
 * Slow path: lock every bucket of the SKU that has units left, in bucket
 * order, and take the units wherever they are.  Buckets that are empty in
 * the newest committed state are not locked, so a sold-out SKU answers
 * OM001 at once instead of queueing on its rows.
 */
static void
HoldSpread(int64 shop_id, int64 order_id, int64 return_id, const char *sku, int32 qty,
		   const HoldOut *out)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID};
	Datum		values[2];
	int64		available;
	bool		backorder;
	int32	   *bucket;
	int32	   *avail;
	uint64		n;
	uint64		i;
	int32		left = qty;
	int			look;

	om_plan(&plan,
			"SELECT bucket, on_hand - reserved, backorder FROM order_mgmt.stock"
			" WHERE shop_id = $1 AND sku = $2 AND (backorder OR on_hand > reserved)"
			" ORDER BY bucket FOR NO KEY UPDATE",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(sku);

	/*
	 * Twice at most: a bucket locked by a split or merge of the SKU's
	 * buckets (balance_buckets(), hot_sku.c) or by a stock change that
	 * raised K is read in its newest version once we have waited for it,
	 * but the buckets its transaction made, or filled from the ones we read,
	 * are not in this statement's snapshot, which could then count too few
	 * units.  The second look has a new snapshot, taken after those
	 * transactions committed, and the buckets we hold cannot be moved again
	 * meanwhile (a split or merge locks every bucket first).  A split that
	 * began between the two looks waits for a bucket we hold; should the
	 * second look need a lower bucket the split has locked (one that got
	 * units back between the looks), the deadlock detector ends one of the
	 * two, most likely the split, which waited first: balance_buckets()
	 * skips that SKU until its next call.
	 */
	for (look = 0;; look++)
	{
		om_exec(plan, values, NULL, false, 0);

		n = SPI_processed;
		bucket = palloc(sizeof(int32) * (n + 1));
		avail = palloc(sizeof(int32) * (n + 1));
		available = 0;
		backorder = false;
		for (i = 0; i < n; i++)
		{
			bool		isnull;
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	td = SPI_tuptable->tupdesc;

			bucket[i] = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));
			avail[i] = DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
			backorder |= DatumGetBool(SPI_getbinval(tup, td, 3, &isnull));
			if (avail[i] > 0)
				available += avail[i];
		}
		if (n > 0 && (backorder || available >= qty))
			break;
		if (n == 0 || look > 0)
			InsufficientStock(sku, qty, available);
	}

	for (i = 0; i < n && left > 0; i++)
	{
		int32		take = backorder ? left : Min(left, avail[i]);

		if (take <= 0)
			continue;
		if (!HoldFromBucket(shop_id, order_id, return_id, sku, take, bucket[i]))
			elog(ERROR, "could not hold %d units of sku \"%s\" in locked bucket %d",
				 take, sku, bucket[i]);
		ReportHold(out, sku, bucket[i], take);
		left -= take;
	}
}

/*
 * Hold the given lines (sorted by sku, tracked SKUs only) for an order.
 * Raises OM001 naming the first SKU that cannot be held.  Reports each hold
 * as a {"sku", "bucket", "qty"} object to out (inside an array the caller
 * opened; om_hold_stock() as JSON text if holds is given,
 * om_hold_stock_jsonb() as jsonb).
 */
/*
 * The most probe locks (om_hot_busy) one call takes: a cart of a thousand
 * one-bucket SKUs must not take a thousand heavyweight locks; a hot SKU
 * beyond them in a big cart is only not counted there.
 */
#define OM_HOT_PROBES	8

static void
HoldStock(int64 shop_id, int64 order_id, int64 return_id, const OmHold *lines,
		  int nlines, const HoldOut *out)
{
	int			i;
	int			probes = 0;

	for (i = 0; i < nlines; i++)
	{
		const OmHold *l = &lines[i];
		int32		bucket = -1;
		bool		tried_free = l->buckets > 1 || l->queue;
		bool		contended = false;

		/* 1. a bucket with enough units that nobody holds: no waiting */
		if (tried_free)
			bucket = HoldFromFreeBucket(shop_id, order_id, return_id, l->sku, l->qty,
										Max(l->buckets, 1));
		else if (l->auto_spread && probes++ < OM_HOT_PROBES)
			/* one bucket: is another transaction holding the SKU? (hot_sku.c) */
			contended = om_hot_busy(shop_id, l->sku);
		if (bucket < 0)
		{
			/*
			 * 2. wait for one bucket that had enough units when we looked
			 * (in the queue in front of it, if the SKU has one); the update
			 * re-checks the newest row version
			 */
			int32		wait_for = l->buckets > 1 ?
				PickBucket(shop_id, l->sku, l->qty, l->buckets) : 0;

			if (wait_for >= 0)
			{
				if (l->queue)
					Queue(shop_id, l->sku, wait_for);
				if (l->buckets <= 1)
				{
					if (HoldFromBucket(shop_id, order_id, return_id, l->sku, l->qty, 0))
						bucket = 0;
				}
				else if (HoldWaiting(shop_id, order_id, return_id, l->sku, l->qty, wait_for))
					bucket = wait_for;
				/* every bucket with enough was busy, and waiting got the units */
				contended |= tried_free && bucket >= 0;
			}
		}
		if (bucket >= 0)
			ReportHold(out, l->sku, bucket, l->qty);
		else
			/* 3. near sell-out: the units wherever they are, or OM001 */
			HoldSpread(shop_id, order_id, return_id, l->sku, l->qty, out);
		if (l->auto_spread)
			om_hot_note(shop_id, l->sku, contended, l->buckets > 1);
	}
}

void
om_hold_stock(int64 shop_id, int64 order_id, int64 return_id, const OmHold *lines,
			  int nlines, StringInfo holds)
{
	HoldOut		out = {holds, NULL};

	HoldStock(shop_id, order_id, return_id, lines, nlines, &out);
}

/* om_hold_stock(), the holds pushed as jsonb objects onto *holds (an open array). */
void
om_hold_stock_jsonb(int64 shop_id, int64 order_id, int64 return_id, const OmHold *lines,
					int nlines, JsonbParseState **holds)
{
	HoldOut		out = {NULL, holds};

	HoldStock(shop_id, order_id, return_id, lines, nlines, &out);
}

typedef struct StockDelta
{
	char	   *sku;
	int32		bucket;
	int32		qty;
} StockDelta;

static int
CompareDelta(const void *a, const void *b)
{
	const StockDelta *x = a;
	const StockDelta *y = b;
	int			c = strcmp(x->sku, y->sku);

	if (c != 0)
		return c;
	return (x->bucket > y->bucket) - (x->bucket < y->bucket);
}

/* Add the units of *from to *into, units of the same (sku, bucket). */
static void
SumDelta(void *into, const void *from)
{
	((StockDelta *) into)->qty += ((const StockDelta *) from)->qty;
}

/* The (sku, bucket, qty) of a reservation row, in its columns col .. col + 2. */
static void
ReadDelta(HeapTuple tup, TupleDesc td, int col, StockDelta *d)
{
	bool		isnull;

	d->sku = TextDatumGetCString(SPI_getbinval(tup, td, col, &isnull));
	d->bucket = DatumGetInt32(SPI_getbinval(tup, td, col + 1, &isnull));
	d->qty = DatumGetInt32(SPI_getbinval(tup, td, col + 2, &isnull));
}

/*
 * ResolveHeld(), step 1: move the order's (or its return's) held
 * reservations to 'released' or 'fulfilled' with one UPDATE, and return
 * their units summed per (sku, bucket), in lock order; *ndeltas of them
 * (0 when nothing was held).  Inside SPI.
 */
static StockDelta *
ResolveReservations(int64 shop_id, int64 order_id, int64 return_id, bool fulfil,
					int *ndeltas)
{
	static SPIPlanPtr release_plan = NULL;
	static SPIPlanPtr fulfil_plan = NULL;
	static const Oid resolve_types[] = {INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID};
	Datum		values[4];
	StockDelta *deltas;
	uint64		n;
	uint64		i;

	om_plan(&release_plan,
			"UPDATE order_mgmt.reservation SET state = 'released', resolved_at = $3"
			" WHERE shop_id = $1 AND order_id = $2 AND state = 'held'"
			"   AND return_id IS NOT DISTINCT FROM $4"
			" RETURNING sku, bucket, qty",
			4, resolve_types);
	om_plan(&fulfil_plan,
			"UPDATE order_mgmt.reservation SET state = 'fulfilled', resolved_at = $3"
			" WHERE shop_id = $1 AND order_id = $2 AND state = 'held'"
			"   AND return_id IS NOT DISTINCT FROM $4"
			" RETURNING sku, bucket, qty",
			4, resolve_types);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(om_now());
	values[3] = Int64GetDatum(return_id);
	om_exec(fulfil ? fulfil_plan : release_plan, values, return_id ? NULL : "   n",
			false, 0);
	n = SPI_processed;
	*ndeltas = 0;
	if (n == 0)
		return NULL;

	deltas = palloc(sizeof(StockDelta) * n);
	for (i = 0; i < n; i++)
		ReadDelta(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &deltas[i]);
	*ndeltas = (int) om_sort_merge(deltas, n, sizeof(StockDelta), CompareDelta, SumDelta);
	return deltas;
}

/*
 * ResolveHeld(), step 2: take the resolved units off the stock rows, one
 * (sku, bucket) at a time in lock order (NOWAIT first when the acting
 * context says so): reserved drops, and on_hand too when fulfil.  A sweep
 * batch's released units are only noted for the batch's end.  Appends
 * each to detail (AppendHold) and returns the units.  Inside SPI.
 */
static int64
TakeOffStock(int64 shop_id, const StockDelta *deltas, int ndeltas, bool fulfil,
			 StringInfo detail)
{
	const OmAct *act = om_act();
	static SPIPlanPtr give_back_plan = NULL;
	static SPIPlanPtr ship_plan = NULL;
	static SPIPlanPtr nowait_plan = NULL;
	static const Oid stock_types[] = {INT8OID, TEXTOID, INT4OID, INT4OID};
	Datum		values[4];
	SPIPlanPtr	plan;
	int64		units = 0;
	int			i;

	om_plan(&give_back_plan,
			"UPDATE order_mgmt.stock SET reserved = reserved - $4"
			" WHERE shop_id = $1 AND sku = $2 AND bucket = $3",
			4, stock_types);
	om_plan(&ship_plan,
			"UPDATE order_mgmt.stock SET reserved = reserved - $4, on_hand = on_hand - $4"
			" WHERE shop_id = $1 AND sku = $2 AND bucket = $3",
			4, stock_types);
	om_plan(&nowait_plan,
			"SELECT 1 FROM order_mgmt.stock WHERE shop_id = $1 AND sku = $2 AND bucket = $3"
			" FOR NO KEY UPDATE NOWAIT",
			3, stock_types);
	plan = fulfil ? ship_plan : give_back_plan;

	for (i = 0; i < ndeltas; i++)
	{
		const StockDelta *d = &deltas[i];

		values[0] = Int64GetDatum(shop_id);
		values[1] = CStringGetTextDatum(d->sku);
		values[2] = Int32GetDatum(d->bucket);
		values[3] = Int32GetDatum(d->qty);
		if (act->nowait)
			om_exec(nowait_plan, values, NULL, false, 0);
		if (!fulfil && act->batch)
			/* a sweep batch gives the units back at its end (sweep_batch.c) */
			om_batch_add_stock(act->batch, shop_id, d->sku, d->bucket, d->qty);
		else
		{
			om_exec(plan, values, NULL, false, 0);
			if (SPI_processed != 1)
				elog(ERROR, "stock row of sku \"%s\" bucket %d is missing", d->sku, d->bucket);
		}
		AppendHold(detail, d->sku, d->bucket, d->qty);
		units += d->qty;
	}
	return units;
}

/*
 * Move an order's held reservations to 'released' (give the units back) or
 * 'fulfilled' (they left the warehouse: on_hand drops too), then adjust the
 * stock rows in lock order.  Appends an event of the given kind with the
 * units moved.  Returns the number of units.  Inside SPI.
 */
static int64
ResolveHeld(int64 shop_id, int64 order_id, int64 return_id, bool fulfil, const char *event_kind)
{
	StockDelta *deltas;
	int			ndeltas;
	int64		units;
	StringInfoData detail;

	deltas = ResolveReservations(shop_id, order_id, return_id, fulfil, &ndeltas);
	if (ndeltas == 0)
		return 0;

	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"holds\": [");
	units = TakeOffStock(shop_id, deltas, ndeltas, fulfil, &detail);
	appendStringInfoString(&detail, "]}");
	om_event_write(shop_id, order_id, event_kind, NULL, NULL, detail.data);
	return units;
}

/*
 * edit_order(): give back count units of sku that the order (not a return
 * of it) holds, taking them off its reservations in bucket order: a row
 * given back whole is released, a row given back in part is released and
 * its remainder held anew in the same bucket (the ledger keeps every hold
 * as it was).  The stock rows of the SKU are updated in bucket order (the
 * lock order).  Appends what went back to released.  Inside SPI.
 */
static void
ReleaseUnits(int64 shop_id, int64 order_id, const char *sku, int32 count, StringInfo released)
{
	static SPIPlanPtr rows_plan = NULL;
	static SPIPlanPtr release_plan = NULL;
	static SPIPlanPtr keep_plan = NULL;
	static SPIPlanPtr stock_plan = NULL;
	static const Oid rows_types[] = {INT8OID, INT8OID, TEXTOID};
	static const Oid release_types[] = {INT8OID, INT8OID, TIMESTAMPTZOID};
	static const Oid keep_types[] = {INT8OID, INT8OID, TEXTOID, INT4OID, INT4OID, TIMESTAMPTZOID};
	static const Oid stock_types[] = {INT8OID, TEXTOID, INT4OID, INT4OID};
	Datum		values[6];
	Datum		now = TimestampTzGetDatum(om_now());
	int64	   *ids;
	int32	   *buckets;
	int32	   *qtys;
	uint64		n;
	uint64		i;
	int32		left = count;
	int32		bucket_units = 0;

	om_plan(&rows_plan,
			"SELECT reservation_id, bucket, qty FROM order_mgmt.reservation"
			" WHERE shop_id = $1 AND order_id = $2 AND sku = $3 AND state = 'held' AND return_id IS NULL"
			" ORDER BY bucket, reservation_id DESC",
			3, rows_types);
	om_plan(&release_plan,
			"UPDATE order_mgmt.reservation SET state = 'released', resolved_at = $3"
			" WHERE shop_id = $1 AND reservation_id = $2",
			3, release_types);
	om_plan(&keep_plan,
			"INSERT INTO order_mgmt.reservation (shop_id, order_id, sku, bucket, qty, created_at)"
			" VALUES ($1, $2, $3, $4, $5, $6)",
			6, keep_types);
	om_plan(&stock_plan,
			"UPDATE order_mgmt.stock SET reserved = reserved - $4"
			" WHERE shop_id = $1 AND sku = $2 AND bucket = $3",
			4, stock_types);

	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = CStringGetTextDatum(sku);
	om_exec(rows_plan, values, NULL, false, 0);
	n = SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	buckets = palloc(sizeof(int32) * (n + 1));
	qtys = palloc(sizeof(int32) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		buckets[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		qtys[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
	}

	for (i = 0; i < n && left > 0; i++)
	{
		int32		take = Min(left, qtys[i]);

		values[1] = Int64GetDatum(ids[i]);
		values[2] = now;
		om_exec(release_plan, values, NULL, false, 0);
		if (take < qtys[i])
		{
			values[1] = Int64GetDatum(order_id);
			values[2] = CStringGetTextDatum(sku);
			values[3] = Int32GetDatum(buckets[i]);
			values[4] = Int32GetDatum(qtys[i] - take);
			values[5] = now;
			om_exec(keep_plan, values, NULL, false, 0);
		}
		left -= take;
		bucket_units += take;
		/* the bucket's units, once its last row is done */
		if (left == 0 || i + 1 == n || buckets[i + 1] != buckets[i])
		{
			Datum		sv[4];

			sv[0] = Int64GetDatum(shop_id);
			sv[1] = CStringGetTextDatum(sku);
			sv[2] = Int32GetDatum(buckets[i]);
			sv[3] = Int32GetDatum(bucket_units);
			om_exec(stock_plan, sv, NULL, false, 0);
			if (SPI_processed != 1)
				elog(ERROR, "stock row of sku \"%s\" bucket %d is missing", sku, buckets[i]);
			AppendHold(released, sku, buckets[i], bucket_units);
			bucket_units = 0;
		}
	}
	if (left > 0)
		elog(ERROR, "order " INT64_FORMAT " holds %d units of sku \"%s\" fewer than expected",
			 order_id, left, sku);
}

/*
 * edit_order(): make the stock the order holds (not its returns') what
 * target says, target being the tracked SKUs of its edited lines, summed
 * per SKU and sorted with strcmp.  Per SKU in lock order, units no longer
 * wanted go back (ReleaseUnits) and new ones are held as checkout holds
 * them (om_hold_stock, OM001 when short), so an edit takes stock rows in
 * the same order as every other path.  Appends the units given back to
 * released and the new holds to held.  Inside SPI; the order row is
 * locked by the caller.
 */
void
om_rehold_stock(int64 shop_id, int64 order_id, const OmHold *target, int ntarget,
				StringInfo released, StringInfo held)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	Datum		values[2];
	char	  **skus;
	int32	   *have;
	int			n;
	int			i = 0;
	int			j = 0;

	om_plan(&plan,
			"SELECT sku, sum(qty)::int4 FROM order_mgmt.reservation"
			" WHERE shop_id = $1 AND order_id = $2 AND state = 'held' AND return_id IS NULL"
			" GROUP BY sku ORDER BY sku COLLATE \"C\"",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	om_exec(plan, values, NULL, false, 0);
	n = (int) SPI_processed;
	skus = palloc(sizeof(char *) * (n + 1));
	have = palloc(sizeof(int32) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		skus[i] = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		have[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}

	/* merge the two sorted lists, one SKU at a time */
	i = 0;
	while (i < n || j < ntarget)
	{
		int			c = i >= n ? 1 : j >= ntarget ? -1 : strcmp(skus[i], target[j].sku);
		int32		cur = c <= 0 ? have[i] : 0;
		int32		want = c >= 0 ? target[j].qty : 0;

		if (want > cur)
		{
			OmHold		more = target[j];

			more.qty = want - cur;
			om_hold_stock(shop_id, order_id, 0, &more, 1, held);
		}
		else if (want < cur)
			ReleaseUnits(shop_id, order_id, skus[i], cur - want, released);
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
}

/* Cancel: held units go back to available at once (SPEC §4.3). */
int64
om_release_stock(int64 shop_id, int64 order_id)
{
	return ResolveHeld(shop_id, order_id, 0, false, "release");
}

/* A held unit of a set's release, with its order. */
typedef struct OrderDelta
{
	int64		shop_id;
	int64		order_id;
	StockDelta	d;
} OrderDelta;

static int
CompareOrderDelta(const void *a, const void *b)
{
	const OrderDelta *x = a;
	const OrderDelta *y = b;

	if (x->shop_id != y->shop_id)
		return (x->shop_id > y->shop_id) - (x->shop_id < y->shop_id);
	if (x->order_id != y->order_id)
		return (x->order_id > y->order_id) - (x->order_id < y->order_id);
	return CompareDelta(&x->d, &y->d);
}

/* Add the units of *from to *into, units of the same order and (sku, bucket). */
static void
SumOrderDelta(void *into, const void *from)
{
	((OrderDelta *) into)->d.qty += ((const OrderDelta *) from)->d.qty;
}

/*
 * om_release_stock_set(), step 1: run plan, the UPDATE that releases the
 * set's held reservations, and return them by order, then in lock order,
 * the units of one (sku, bucket) summed; *nrows of them.  Inside SPI.
 */
static OrderDelta *
ReleaseSetReservations(SPIPlanPtr plan, Datum shops, Datum orders, int *nrows)
{
	Datum		values[3];
	OrderDelta *rows;
	uint64		n;
	uint64		i;

	values[0] = shops;
	values[1] = orders;
	values[2] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, NULL, false, 0);
	n = SPI_processed;
	*nrows = 0;
	if (n == 0)
		return NULL;

	rows = palloc(sizeof(OrderDelta) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;

		rows[i].shop_id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		rows[i].order_id = DatumGetInt64(SPI_getbinval(tup, td, 2, &isnull));
		ReadDelta(tup, td, 3, &rows[i].d);
	}
	SPI_freetuptable(SPI_tuptable);
	*nrows = (int) om_sort_merge(rows, n, sizeof(OrderDelta), CompareOrderDelta,
								 SumOrderDelta);
	return rows;
}

/*
 * om_release_stock_set(), step 2: lock the stock rows of the n rows with
 * plan, one statement, NOWAIT.  Inside SPI.
 */
static void
LockSetStock(SPIPlanPtr plan, const OrderDelta *rows, int n)
{
	Datum		values[3];
	Datum	   *lock_shops = palloc(sizeof(Datum) * n);
	Datum	   *lock_skus = palloc(sizeof(Datum) * n);
	Datum	   *lock_buckets = palloc(sizeof(Datum) * n);
	int			i;

	for (i = 0; i < n; i++)
	{
		lock_shops[i] = Int64GetDatum(rows[i].shop_id);
		lock_skus[i] = CStringGetTextDatum(rows[i].d.sku);
		lock_buckets[i] = Int32GetDatum(rows[i].d.bucket);
	}
	values[0] = om_int8_array(lock_shops, n);
	values[1] = om_text_array(lock_skus, n);
	values[2] = om_int4_array(lock_buckets, n);
	om_exec(plan, values, NULL, false, 0);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * om_release_stock_set(), step 3: note the n rows' units in batch, to give
 * back at its end, and write each order's release event, as ResolveHeld()
 * writes it.  rows are sorted by order.
 */
static void
WriteSetReleases(OmBatch *batch, const OrderDelta *rows, int n)
{
	int			start;

	for (start = 0; start < n;)
	{
		StringInfoData detail;
		int			end = start;

		initStringInfo(&detail);
		appendStringInfoString(&detail, "{\"holds\": [");
		for (; end < n && rows[end].shop_id == rows[start].shop_id &&
			 rows[end].order_id == rows[start].order_id; end++)
		{
			om_batch_add_stock(batch, rows[end].shop_id, rows[end].d.sku, rows[end].d.bucket, rows[end].d.qty);
			AppendHold(&detail, rows[end].d.sku, rows[end].d.bucket, rows[end].d.qty);
		}
		appendStringInfoString(&detail, "]}");
		om_event_write(rows[start].shop_id, rows[start].order_id, "release", NULL, NULL, detail.data);
		start = end;
	}
}

/*
 * om_release_stock() for the n orders of a run_due() set at once ($1 shop
 * ids, $2 order ids, int8 arrays), inside the sweeper's batch: one UPDATE
 * moves all their held reservations to 'released', one statement locks
 * the stock rows NOWAIT (the set has locked them already, so that is free
 * unless a trigger cancelled an order outside it), the batch notes the
 * units to give back, and each order gets the release event it would get
 * alone, with its units in the same lock order.  Inside SPI.
 */
void
om_release_stock_set(Datum shops, Datum orders)
{
	const OmAct *act = om_act();
	static SPIPlanPtr release_plan = NULL;
	static SPIPlanPtr nowait_plan = NULL;
	static const Oid release_types[] = {INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZOID};
	static const Oid lock_types[] = {INT8ARRAYOID, TEXTARRAYOID, INT4ARRAYOID};
	OrderDelta *rows;
	int			nrows;

	if (act->batch == NULL)
		elog(ERROR, "om_release_stock_set called outside a run_due() batch");
	om_plan(&release_plan,
			"UPDATE order_mgmt.reservation r SET state = 'released', resolved_at = $3"
			" FROM ROWS FROM (pg_catalog.unnest($1::int8[]), pg_catalog.unnest($2::int8[])) AS u(shop_id, order_id)"
			" WHERE r.shop_id = u.shop_id AND r.order_id = u.order_id AND r.state = 'held'"
			"   AND r.return_id IS NULL"
			" RETURNING r.shop_id, r.order_id, r.sku, r.bucket, r.qty",
			3, release_types);
	om_plan(&nowait_plan,
			"SELECT 1 FROM order_mgmt.stock s"
			" WHERE (s.shop_id, s.sku, s.bucket) IN (SELECT * FROM ROWS FROM (pg_catalog.unnest($1::int8[]),"
			"   pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::int4[])))"
			" FOR NO KEY UPDATE OF s NOWAIT",
			3, lock_types);

	rows = ReleaseSetReservations(release_plan, shops, orders, &nrows);
	if (nrows == 0)
		return;
	if (act->nowait)
		LockSetStock(nowait_plan, rows, nrows);
	WriteSetReleases(act->batch, rows, nrows);
}

/* An exchange rejected or cancelled: its replacement's units go back. */
int64
om_release_return_stock(int64 shop_id, int64 order_id, int64 return_id)
{
	return ResolveHeld(shop_id, order_id, return_id, false, "release");
}

/* An exchange's replacement ships. */
int64
om_commit_return_stock(int64 shop_id, int64 order_id, int64 return_id)
{
	return ResolveHeld(shop_id, order_id, return_id, true, "commit_stock");
}

/* Shipment: held units leave the warehouse (SPEC §4.2). */
int64
om_commit_stock(int64 shop_id, int64 order_id)
{
	return ResolveHeld(shop_id, order_id, 0, true, "commit_stock");
}

/*
 * A package of some of the order's lines ships (issue 17 item 9): the
 * units of its lines (order_mgmt.shipment_line) leave the warehouse, the
 * rest stays held.  One statement takes them from the order's held
 * reservations of each SKU, in (bucket, reservation_id) order: a
 * reservation taken whole becomes 'fulfilled', one taken in part keeps
 * its remaining units held and a 'fulfilled' row of the same hold records
 * the part that left.  Then the stock rows, in lock order, and one
 * commit_stock event naming the package.  A SKU the order holds nothing of
 * (a digital one) commits nothing.  The order row is locked by the caller,
 * so its reservations do not change meanwhile.  Returns the units.
 * Inside SPI.
 */
int64
om_commit_package_stock(int64 shop_id, int64 order_id, int64 shipment_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		values[4];
	StockDelta *deltas;
	int			ndeltas;
	uint64		n;
	uint64		i;
	int64		units;
	StringInfoData detail;

	om_plan(&plan,
			"WITH want AS (SELECT l.sku, sum(p.qty) AS qty FROM order_mgmt.shipment_line p"
			"    JOIN order_mgmt.order_line l ON l.shop_id = $1 AND l.order_id = p.order_id"
			"      AND l.line_no = p.line_no"
			"   WHERE p.shop_id = $1 AND p.shipment_id = $3 GROUP BY l.sku),"
			" held AS (SELECT r.reservation_id, r.sku, r.bucket, r.qty, r.created_at,"
			"    sum(r.qty) OVER (PARTITION BY r.sku ORDER BY r.bucket, r.reservation_id) AS upto"
			"   FROM order_mgmt.reservation r"
			"   WHERE r.shop_id = $1 AND r.order_id = $2 AND r.state = 'held' AND r.return_id IS NULL),"
			" take AS MATERIALIZED (SELECT h.reservation_id, h.sku, h.bucket, h.qty, h.created_at,"
			"    least(h.qty, w.qty - (h.upto - h.qty))::int4 AS took"
			"   FROM held h JOIN want w ON w.sku = h.sku WHERE h.upto - h.qty < w.qty),"
			" whole AS (UPDATE order_mgmt.reservation r SET"
			"    state = CASE WHEN t.took = t.qty THEN 'fulfilled' ELSE 'held' END::order_mgmt.reservation_state,"
			"    qty = r.qty - CASE WHEN t.took = t.qty THEN 0 ELSE t.took END,"
			"    resolved_at = CASE WHEN t.took = t.qty THEN $4 END"
			"   FROM take t WHERE r.shop_id = $1 AND r.reservation_id = t.reservation_id),"
			" part AS (INSERT INTO order_mgmt.reservation"
			"    (shop_id, order_id, sku, bucket, qty, state, created_at, resolved_at)"
			"   SELECT $1, $2, t.sku, t.bucket, t.took, 'fulfilled', t.created_at, $4"
			"   FROM take t WHERE t.took < t.qty)"
			" SELECT sku, bucket, took FROM take",
			4, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = Int64GetDatum(shipment_id);
	values[3] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, NULL, false, 0);
	n = SPI_processed;
	if (n == 0)
		return 0;

	deltas = palloc(sizeof(StockDelta) * n);
	for (i = 0; i < n; i++)
		ReadDelta(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &deltas[i]);
	ndeltas = (int) om_sort_merge(deltas, n, sizeof(StockDelta), CompareDelta, SumDelta);

	initStringInfo(&detail);
	appendStringInfo(&detail, "{\"shipment_id\": " INT64_FORMAT ", \"holds\": [", shipment_id);
	units = TakeOffStock(shop_id, deltas, ndeltas, true, &detail);
	appendStringInfoString(&detail, "]}");
	om_event_write(shop_id, order_id, "commit_stock", NULL, NULL, detail.data);
	return units;
}
