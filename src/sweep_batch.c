/*-------------------------------------------------------------------------
 *
 * sweep_batch.c
 *	  The counter changes of one run_due() batch, applied once at its end.
 *
 * A batch cancels hundreds of orders in one transaction.  Done one order
 * at a time, every cancellation that used promo code P updated P's row
 * again, so within the batch P's row (and a stock row shared by several
 * orders) grew a chain of row versions that no one can prune before the
 * batch commits, and every later lock and update walked the whole chain:
 * 50 cancellations per code made each one cost 0.5 ms.  So while a batch
 * runs, releasing held stock or a promo redemption still locks the
 * counter row (NOWAIT, as everything in run_due(); a later lock of a row
 * the batch already holds is free and makes no new version) but records
 * the change here instead of writing it, and run_due() writes the sums at
 * the end, each row once, one UPDATE per kind of counter, of rows the
 * batch already holds, so it never waits.  The batch also defers its events (events.c) and
 * writes them with one INSERT at its end, or whenever OM_SPILL_EVENTS
 * have piled up.  The redemption rows are still written order by order;
 * the reservations of a set of cancelled orders with one UPDATE
 * (om_release_stock_set, run by order_effects.c).
 *
 * Each order runs in a subtransaction; run_due() takes a mark before it and
 * rewinds to the mark when the order's action failed, so a rolled-back
 * order leaves no change and no event behind.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "events.h"
#include "sort_merge.h"
#include "spi_util.h"
#include "sweep.h"

/* Deferred events written in between orders once this many wait. */
#define OM_SPILL_EVENTS 8192

typedef enum DeltaKind
{
	DELTA_PROMO_CODE,			/* promo_code.used */
	DELTA_PROMO_USE,			/* promo_customer_use.used */
	DELTA_STOCK					/* stock.reserved */
} DeltaKind;

typedef struct Delta
{
	DeltaKind	kind;
	int64		shop_id;
	char	   *key;			/* code_key, or sku */
	char	   *who;			/* customer key of a promo use */
	int32		bucket;
	int64		qty;			/* units or uses to give back */
} Delta;

/* A run_due() batch (context.h: OmAct.batch). */
struct OmBatch
{
	MemoryContext cxt;
	Delta	   *deltas;
	int			n;
	int			max;
	OmEventQueue *events;		/* its deferred events, or NULL */
};

/*
 * Start a batch in memory that lives as long as cxt.  The caller puts it
 * and its event queue (om_batch_events) in the acting context.
 */
OmBatch *
om_batch_begin(MemoryContext cxt)
{
	OmBatch    *b = MemoryContextAllocZero(cxt, sizeof(OmBatch));

	b->cxt = AllocSetContextCreate(cxt, "order_mgmt sweep batch", ALLOCSET_DEFAULT_SIZES);
	b->max = 256;
	b->deltas = MemoryContextAlloc(b->cxt, sizeof(Delta) * b->max);
	b->events = om_events_defer_begin(b->cxt);
	return b;
}

/* The queue of the batch's deferred events; NULL when events are not deferred. */
OmEventQueue *
om_batch_events(OmBatch *b)
{
	return b->events;
}

/* End the batch and forget what was not applied (also after an error). */
void
om_batch_end(OmBatch *b)
{
	if (b == NULL)
		return;
	om_events_defer_end(b->events);
	MemoryContextDelete(b->cxt);
	pfree(b);
}

OmBatchMark
om_batch_mark(const OmBatch *b)
{
	OmBatchMark mark = {b->n, om_events_deferred(b->events)};

	return mark;
}

/* Forget the changes and events recorded since mark: that order rolled back. */
void
om_batch_rewind(OmBatch *b, OmBatchMark mark)
{
	Assert(mark.deltas >= 0 && mark.deltas <= b->n);
	b->n = mark.deltas;
	om_events_rewind(b->events, mark.events);
}

/* Between orders: write the deferred events if many wait.  Inside SPI. */
void
om_batch_spill(OmBatch *b)
{
	if (om_events_deferred(b->events) >= OM_SPILL_EVENTS)
		om_events_flush(b->events);
}

static void
Add(OmBatch *b, DeltaKind kind, int64 shop_id, const char *key, const char *who, int32 bucket, int64 qty)
{
	Delta	   *d;

	if (b->n == b->max)
	{
		b->max *= 2;
		b->deltas = repalloc(b->deltas, sizeof(Delta) * b->max);
	}
	d = &b->deltas[b->n++];
	d->kind = kind;
	d->shop_id = shop_id;
	d->key = MemoryContextStrdup(b->cxt, key);
	d->who = who ? MemoryContextStrdup(b->cxt, who) : NULL;
	d->bucket = bucket;
	d->qty = qty;
}

void
om_batch_add_stock(OmBatch *b, int64 shop_id, const char *sku, int32 bucket, int32 qty)
{
	Add(b, DELTA_STOCK, shop_id, sku, NULL, bucket, qty);
}

/* One use of a code given back: to the code (who NULL) or to a customer's count. */
void
om_batch_add_promo(OmBatch *b, int64 shop_id, const char *code_key, const char *who)
{
	Add(b, who ? DELTA_PROMO_USE : DELTA_PROMO_CODE, shop_id, code_key, who, 0, 1);
}

/* Sorted so that changes to one row are adjacent; also the lock order. */
static int
CompareDeltas(const void *a, const void *b)
{
	const Delta *x = a;
	const Delta *y = b;
	int			c;

	if (x->kind != y->kind)
		return (int) x->kind - (int) y->kind;
	if (x->shop_id != y->shop_id)
		return x->shop_id < y->shop_id ? -1 : 1;
	c = strcmp(x->key, y->key);
	if (c != 0)
		return c;
	if (x->kind == DELTA_PROMO_USE)
		return strcmp(x->who, y->who);
	return (x->bucket > y->bucket) - (x->bucket < y->bucket);
}

/* Add the change *from to *into, a change to the same row. */
static void
SumDeltas(void *into, const void *from)
{
	((Delta *) into)->qty += ((const Delta *) from)->qty;
}

/*
 * Write one kind of counter change, deltas[from .. to) (summed, one per
 * row), with one UPDATE.  Inside SPI.
 */
static void
FlushKind(const Delta *deltas, int n)
{
	static SPIPlanPtr plans[3] = {NULL, NULL, NULL};
	static const Oid types[] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, INT8ARRAYOID};
	static const char *const sql[] = {
		[DELTA_PROMO_CODE] =
		"UPDATE order_mgmt.promo_code c SET used = c.used - u.qty"
		" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($5))"
		"   AS u(shop_id, code_key, qty)"
		" WHERE c.shop_id = u.shop_id AND c.code_key = u.code_key",
		[DELTA_PROMO_USE] =
		"UPDATE order_mgmt.promo_customer_use w SET used = w.used - u.qty"
		" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
		"   pg_catalog.unnest($5)) AS u(shop_id, code_key, who, qty)"
		" WHERE w.shop_id = u.shop_id AND w.code_key = u.code_key AND w.who = u.who",
		[DELTA_STOCK] =
		"UPDATE order_mgmt.stock s SET reserved = s.reserved - u.qty"
		" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($4),"
		"   pg_catalog.unnest($5)) AS u(shop_id, sku, bucket, qty)"
		" WHERE s.shop_id = u.shop_id AND s.sku = u.sku AND s.bucket = u.bucket",
	};
	DeltaKind	kind = deltas[0].kind;
	Datum	   *shops = palloc(sizeof(Datum) * n);
	Datum	   *keys = palloc(sizeof(Datum) * n);
	Datum	   *whos = palloc(sizeof(Datum) * n);
	Datum	   *buckets = palloc(sizeof(Datum) * n);
	Datum	   *qtys = palloc(sizeof(Datum) * n);
	Datum		values[5];
	int			i;

	if (n == 0)
		return;
	om_plan(&plans[kind], sql[kind], 5, types);
	for (i = 0; i < n; i++)
	{
		const Delta *d = &deltas[i];

		shops[i] = Int64GetDatum(d->shop_id);
		keys[i] = CStringGetTextDatum(d->key);
		whos[i] = CStringGetTextDatum(d->who ? d->who : "");
		buckets[i] = Int32GetDatum(d->bucket);
		qtys[i] = Int64GetDatum(d->qty);
	}
	values[0] = om_int8_array(shops, n);
	values[1] = om_text_array(keys, n);
	values[2] = om_text_array(whos, n);
	values[3] = om_int4_array(buckets, n);
	values[4] = om_int8_array(qtys, n);
	om_exec(plans[kind], values, NULL, false, 0);
	if (kind == DELTA_STOCK && SPI_processed != (uint64) n)
		elog(ERROR, "%d of the %d stock rows a sweep batch gives back to are missing",
			 n - (int) SPI_processed, n);
}

/*
 * Write the deferred events, then the summed changes: one UPDATE per kind
 * of counter, each row once (the batch holds them all already, so the
 * order the rows are written in does not matter).  Inside SPI.
 */
void
om_batch_flush(OmBatch *b)
{
	int			i;
	int			n;
	int			from;

	om_events_flush(b->events);
	if (b->n == 0)
		return;

	/* sort by kind and row, and sum the changes to each row */
	n = (int) om_sort_merge(b->deltas, b->n, sizeof(Delta), CompareDeltas, SumDeltas);

	for (from = 0, i = 1; i <= n; i++)
	{
		if (i == n || b->deltas[i].kind != b->deltas[from].kind)
		{
			FlushKind(&b->deltas[from], i - from);
			from = i;
		}
	}
	b->n = 0;
}
