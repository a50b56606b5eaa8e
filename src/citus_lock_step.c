/*-------------------------------------------------------------------------
 *
 * citus_lock_step.c
 *	  The lock step of a multi-row UPDATE of orders on a Citus shard
 *	  (issue 16): what order_effects.c's LockStatementRows() does on one
 *	  node, with statements Citus can route.
 *
 * On one node the lock step joins the statement's transition tables with
 * promo codes, counters and stock, FOR NO KEY UPDATE; Citus cannot plan
 * that join inside a shard's trigger (the distributed tables are planned
 * by Citus, the transition tables are not tables).  So here the
 * statement's rows are read from the transition tables (tuplestores) in
 * C, once: how many row events the statement fires (the trigger's WHEN
 * condition, as CountRowEvents() counts it), and, per shop, the orders
 * whose move has effects that lock rows (cancelled, reactivated, leaving
 * pre-shipment; what MOVES_SQL computes).  Then, shop by shop in
 * ascending shop_id (a shard holds many shops), it takes the same locks
 * as the single-node step, each with a statement on one table and
 * "shop_id = $1", which Citus routes to the co-located local shard:
 *
 *	store credit balances	of the orders that spent credit, cancelled or
 *							reactivated, by customer_id;
 *	promo codes				the limited code of an active redemption of a
 *							cancelled order, the code of a reactivated
 *							order if it has a usage limit, by code;
 *	per-customer counters	the active redemption's (code, who) of a
 *							cancelled order, the reactivated order's
 *							(code, customer or e-mail) if the code has a
 *							per-customer limit, by (code, who);
 *	stock rows				the held reservations of cancelled or shipped
 *							orders, every bucket of the SKUs of a
 *							reactivated order's lines, by (sku, bucket).
 *
 * Each shop's rows are locked in the global lock order (docs/concurrency.md),
 * and the shops one after another: every statement of this kind locks in
 * (shop_id, kind, key) order, and a checkout locks one shop's rows in
 * (kind, key) order, so none of them waits for another in a cycle.  What a
 * move takes is read without a lock first (redemptions, reservations,
 * lines): the statement holds the order rows, and every change of those
 * rows takes its order row first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "citus_lock_step.h"
#include "machines.h"
#include "money.h"
#include "spi_util.h"

/* One row of the statement whose move takes locks. */
typedef struct LockMove
{
	int64		shop_id;
	int64		order_id;
	bool		cancels;
	bool		reactivates;
	bool		ships;
	bool		credit;			/* spent credit, and cancelled or reactivated */
	char	   *promo_key;
	char	   *customer_id;
	char	   *email_key;
} LockMove;

/* A list of Datums to pass as an array parameter. */
typedef struct DatumList
{
	Datum	   *d;
	int			n;
	int			cap;
} DatumList;

static void
ListAdd(DatumList *l, Datum d)
{
	if (l->n == l->cap)
	{
		l->cap = l->cap ? 2 * l->cap : 8;
		l->d = l->d ? repalloc(l->d, sizeof(Datum) * l->cap) : palloc(sizeof(Datum) * l->cap);
	}
	l->d[l->n++] = d;
}

static bool
AttrDistinct(HeapTuple a, HeapTuple b, TupleDesc td, AttrNumber attnum)
{
	bool		anull;
	bool		bnull;
	Datum		ad = heap_getattr(a, attnum, td, &anull);
	Datum		bd = heap_getattr(b, attnum, td, &bnull);

	if (anull || bnull)
		return anull != bnull;
	if (TupleDescAttr(td, attnum - 1)->atttypid == NUMERICOID)
		return om_num_cmp(DatumGetNumeric(ad), DatumGetNumeric(bd)) != 0;
	return !datumIsEqual(ad, bd, TupleDescAttr(td, attnum - 1)->attbyval,
						 TupleDescAttr(td, attnum - 1)->attlen);
}

/* The trigger's WHEN condition (order_effects.c's MOVED_SQL), in C. */
static bool
RowMoved(HeapTuple o, HeapTuple n, TupleDesc td, const OrderCols *cols)
{
	return AttrDistinct(o, n, td, cols->status) ||
		AttrDistinct(o, n, td, cols->payment_status) ||
		AttrDistinct(o, n, td, cols->delivery_status) ||
		heap_attisnull(o, cols->archived_at, td) != heap_attisnull(n, cols->archived_at, td) ||
		AttrDistinct(o, n, td, cols->refunded_amount);
}

/* Fill m from the row's two versions; true if the move takes locks. */
static bool
ReadMove(HeapTuple o, HeapTuple n, TupleDesc td, const OrderCols *cols, LockMove *m)
{
	int			from = om_row_state(o, td, cols->status, OM_MACHINE_ORDER);
	int			to = om_row_state(n, td, cols->status, OM_MACHINE_ORDER);

	m->cancels = from != OS_CANCELLED && to == OS_CANCELLED;
	m->reactivates = from == OS_CANCELLED && to != OS_CANCELLED;
	m->ships = om_delivery_unshipped(om_row_state(o, td, cols->delivery_status, OM_MACHINE_DELIVERY)) &&
		!om_delivery_unshipped(om_row_state(n, td, cols->delivery_status, OM_MACHINE_DELIVERY));
	if (!m->cancels && !m->reactivates && !m->ships)
		return false;
	m->shop_id = om_row_int64(n, td, cols->shop_id);
	m->order_id = om_row_int64(n, td, cols->order_id);
	m->promo_key = om_row_text(n, td, cols->promo_key);
	m->customer_id = om_row_text(n, td, cols->customer_id);
	m->email_key = om_row_text(n, td, cols->email_key);
	m->credit = (m->cancels || m->reactivates) && m->customer_id != NULL &&
		om_num_cmp(om_row_credit_applied(n, td, cols), om_num_int(0)) > 0;
	return true;
}

static int
CompareMoves(const void *a, const void *b)
{
	const LockMove *x = a;
	const LockMove *y = b;

	if (x->shop_id != y->shop_id)
		return x->shop_id < y->shop_id ? -1 : 1;
	return x->order_id < y->order_id ? -1 : (x->order_id > y->order_id);
}

/*
 * Read both transition tables, row by row in step (PostgreSQL appends a
 * row's old and new versions together).  Returns the number of row events
 * and sets *moves to the rows whose move takes locks.
 */
static int64
ReadStatement(TriggerData *trigdata, const OrderCols *cols, LockMove **moves, int *nmoves)
{
	TupleDesc	td = RelationGetDescr(trigdata->tg_relation);
	Tuplestorestate *olds = trigdata->tg_oldtable;
	Tuplestorestate *news = trigdata->tg_newtable;
	TupleTableSlot *oslot = MakeSingleTupleTableSlot(td, &TTSOpsMinimalTuple);
	TupleTableSlot *nslot = MakeSingleTupleTableSlot(td, &TTSOpsMinimalTuple);
	int			optr = tuplestore_alloc_read_pointer(olds, EXEC_FLAG_REWIND);
	int			nptr = tuplestore_alloc_read_pointer(news, EXEC_FLAG_REWIND);
	int64		events = 0;
	int			cap = 16;

	*nmoves = 0;
	*moves = palloc(sizeof(LockMove) * cap);
	tuplestore_select_read_pointer(olds, optr);
	tuplestore_rescan(olds);
	tuplestore_select_read_pointer(news, nptr);
	tuplestore_rescan(news);
	for (;;)
	{
		bool		ogot = tuplestore_gettupleslot(olds, true, false, oslot);
		bool		ngot = tuplestore_gettupleslot(news, true, false, nslot);
		HeapTuple	o;
		HeapTuple	n;

		if (ogot != ngot)
			elog(ERROR, "the transition tables of orders_after differ in length");
		if (!ogot)
			break;
		o = ExecCopySlotHeapTuple(oslot);
		n = ExecCopySlotHeapTuple(nslot);
		if (om_row_int64(o, td, cols->shop_id) != om_row_int64(n, td, cols->shop_id) ||
			om_row_int64(o, td, cols->order_id) != om_row_int64(n, td, cols->order_id))
			elog(ERROR, "the transition tables of orders_after are not in step");
		if (!RowMoved(o, n, td, cols))
			continue;
		events++;
		if (*nmoves == cap)
		{
			cap *= 2;
			*moves = repalloc(*moves, sizeof(LockMove) * cap);
		}
		if (ReadMove(o, n, td, cols, &(*moves)[*nmoves]))
			(*nmoves)++;
	}
	ExecDropSingleTupleTableSlot(oslot);
	ExecDropSingleTupleTableSlot(nslot);
	qsort(*moves, *nmoves, sizeof(LockMove), CompareMoves);
	return events;
}

/* Run a lock statement of plan with values (all arrays after shop_id). */
static void
RunLock(SPIPlanPtr plan, Datum *values)
{
	om_exec(plan, values, NULL, false, 0);
	SPI_freetuptable(SPI_tuptable);
}

/* Store credit balances: the customers of the moves that spent credit. */
static void
LockCredit(int64 shop_id, const LockMove *m, int n, const OrderCols *cols)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTARRAYOID};
	DatumList	customers = {0};
	Datum		values[2];
	int			i;

	if (cols->credit_applied == 0)
		return;
	for (i = 0; i < n; i++)
		if (m[i].credit)
			ListAdd(&customers, CStringGetTextDatum(m[i].customer_id));
	if (customers.n == 0)
		return;
	om_plan(&plan,
			"SELECT 1 FROM order_mgmt.store_credit_balance b"
			" WHERE b.shop_id = $1 AND b.customer_id = ANY ($2)"
			" ORDER BY b.customer_id COLLATE \"C\" FOR NO KEY UPDATE OF b",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = om_text_array(customers.d, customers.n);
	RunLock(plan, values);
}

/* The move of order_id among the n moves (sorted by order_id). */
static const LockMove *
FindMove(const LockMove *m, int n, int64 order_id)
{
	LockMove	key;

	key.shop_id = m[0].shop_id;
	key.order_id = order_id;
	return bsearch(&key, m, n, sizeof(LockMove), CompareMoves);
}

/*
 * Promo code rows, then per-customer counters.  The active redemptions of
 * the cancelled orders (of their promo_key) give limited codes and
 * (code, who) pairs; a reactivated order's code counts if the code has a
 * usage limit, its (code, who) if it has a per-customer limit.
 */
static void
LockPromo(int64 shop_id, const LockMove *m, int n)
{
	static SPIPlanPtr redemptions_plan = NULL;
	static SPIPlanPtr limits_plan = NULL;
	static SPIPlanPtr codes_plan = NULL;
	static SPIPlanPtr counters_plan = NULL;
	static const Oid ids_types[] = {INT8OID, INT8ARRAYOID};
	static const Oid codes_types[] = {INT8OID, TEXTARRAYOID};
	static const Oid pairs_types[] = {INT8OID, TEXTARRAYOID, TEXTARRAYOID};
	DatumList	cancelled = {0};
	DatumList	reactivated = {0};
	DatumList	codes = {0};
	DatumList	pair_codes = {0};
	DatumList	pair_who = {0};
	Datum		values[3];
	uint64		i;
	int			k;

	for (k = 0; k < n; k++)
	{
		if (m[k].promo_key == NULL)
			continue;
		if (m[k].cancels)
			ListAdd(&cancelled, Int64GetDatum(m[k].order_id));
		else if (m[k].reactivates)
			ListAdd(&reactivated, CStringGetTextDatum(m[k].promo_key));
	}
	if (cancelled.n == 0 && reactivated.n == 0)
		return;
	values[0] = Int64GetDatum(shop_id);
	if (cancelled.n > 0)
	{
		om_plan(&redemptions_plan,
				"SELECT r.order_id, r.code_key, r.limited, r.who FROM order_mgmt.promo_redemption r"
				" WHERE r.shop_id = $1 AND r.order_id = ANY ($2) AND r.state = 'active'",
				2, ids_types);
		values[1] = om_int8_array(cancelled.d, cancelled.n);
		om_exec(redemptions_plan, values, NULL, true, 0);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	td = SPI_tuptable->tupdesc;
			bool		isnull;
			const LockMove *mv = FindMove(m, n, DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull)));
			char	   *code = SPI_getvalue(tup, td, 2);
			char	   *who = SPI_getvalue(tup, td, 4);

			if (mv == NULL || strcmp(code, mv->promo_key) != 0)
				continue;
			if (DatumGetBool(SPI_getbinval(tup, td, 3, &isnull)))
				ListAdd(&codes, CStringGetTextDatum(code));
			if (who != NULL)
			{
				ListAdd(&pair_codes, CStringGetTextDatum(code));
				ListAdd(&pair_who, CStringGetTextDatum(who));
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	if (reactivated.n > 0)
	{
		om_plan(&limits_plan,
				"SELECT p.code_key, p.usage_limit IS NOT NULL, p.per_customer_limit IS NOT NULL"
				" FROM order_mgmt.promo_code p WHERE p.shop_id = $1 AND p.code_key = ANY ($2)",
				2, codes_types);
		values[1] = om_text_array(reactivated.d, reactivated.n);
		om_exec(limits_plan, values, NULL, true, 0);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	td = SPI_tuptable->tupdesc;
			bool		isnull;
			char	   *code = SPI_getvalue(tup, td, 1);

			if (DatumGetBool(SPI_getbinval(tup, td, 2, &isnull)))
				ListAdd(&codes, CStringGetTextDatum(code));
			if (!DatumGetBool(SPI_getbinval(tup, td, 3, &isnull)))
				continue;
			for (k = 0; k < n; k++)
				if (m[k].reactivates && m[k].promo_key && strcmp(m[k].promo_key, code) == 0 &&
					(m[k].customer_id || m[k].email_key))
				{
					ListAdd(&pair_codes, CStringGetTextDatum(code));
					ListAdd(&pair_who, CStringGetTextDatum(m[k].customer_id ?
															psprintf("customer:%s", m[k].customer_id) :
															psprintf("email:%s", m[k].email_key)));
				}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	if (codes.n > 0)
	{
		om_plan(&codes_plan,
				"SELECT 1 FROM order_mgmt.promo_code c WHERE c.shop_id = $1 AND c.code_key = ANY ($2)"
				" ORDER BY c.code_key COLLATE \"C\" FOR NO KEY UPDATE OF c",
				2, codes_types);
		values[1] = om_text_array(codes.d, codes.n);
		RunLock(codes_plan, values);
	}
	if (pair_codes.n > 0)
	{
		om_plan(&counters_plan,
				"SELECT 1 FROM order_mgmt.promo_customer_use w"
				" WHERE w.shop_id = $1 AND (w.code_key, w.who) IN"
				"   (SELECT * FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)))"
				" ORDER BY w.code_key COLLATE \"C\", w.who COLLATE \"C\" FOR NO KEY UPDATE OF w",
				3, pairs_types);
		values[1] = om_text_array(pair_codes.d, pair_codes.n);
		values[2] = om_text_array(pair_who.d, pair_who.n);
		RunLock(counters_plan, values);
	}
}

/*
 * Stock rows: the held reservations of the cancelled and shipped orders,
 * every bucket of the SKUs of the reactivated orders' lines.
 */
static void
LockStock(int64 shop_id, const LockMove *m, int n)
{
	static SPIPlanPtr held_plan = NULL;
	static SPIPlanPtr lines_plan = NULL;
	static SPIPlanPtr stock_plan = NULL;
	static const Oid ids_types[] = {INT8OID, INT8ARRAYOID};
	static const Oid stock_types[] = {INT8OID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID};
	DatumList	releasing = {0};
	DatumList	reactivated = {0};
	DatumList	skus = {0};
	DatumList	buckets = {0};
	DatumList	all_buckets = {0};
	Datum		values[4];
	uint64		i;
	int			k;

	for (k = 0; k < n; k++)
	{
		if (m[k].cancels || m[k].ships)
			ListAdd(&releasing, Int64GetDatum(m[k].order_id));
		if (m[k].reactivates)
			ListAdd(&reactivated, Int64GetDatum(m[k].order_id));
	}
	values[0] = Int64GetDatum(shop_id);
	if (releasing.n > 0)
	{
		om_plan(&held_plan,
				"SELECT r.sku, r.bucket FROM order_mgmt.reservation r"
				" WHERE r.shop_id = $1 AND r.order_id = ANY ($2) AND r.state = 'held' AND r.return_id IS NULL",
				2, ids_types);
		values[1] = om_int8_array(releasing.d, releasing.n);
		om_exec(held_plan, values, NULL, true, 0);
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;

			ListAdd(&skus, CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1)));
			ListAdd(&buckets, SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		}
		SPI_freetuptable(SPI_tuptable);
	}
	if (reactivated.n > 0)
	{
		om_plan(&lines_plan,
				"SELECT DISTINCT l.sku FROM order_mgmt.order_line l"
				" WHERE l.shop_id = $1 AND l.order_id = ANY ($2)",
				2, ids_types);
		values[1] = om_int8_array(reactivated.d, reactivated.n);
		om_exec(lines_plan, values, NULL, true, 0);
		for (i = 0; i < SPI_processed; i++)
			ListAdd(&all_buckets, CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1)));
		SPI_freetuptable(SPI_tuptable);
	}
	if (skus.n == 0 && all_buckets.n == 0)
		return;
	om_plan(&stock_plan,
			"SELECT 1 FROM order_mgmt.stock s"
			" WHERE s.shop_id = $1 AND ((s.sku, s.bucket) IN"
			"   (SELECT * FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)))"
			"   OR s.sku = ANY ($4))"
			" ORDER BY s.sku COLLATE \"C\", s.bucket FOR NO KEY UPDATE OF s",
			4, stock_types);
	values[1] = om_text_array(skus.d, skus.n);
	values[2] = om_int4_array(buckets.d, buckets.n);
	values[3] = om_text_array(all_buckets.d, all_buckets.n);
	RunLock(stock_plan, values);
}

/*
 * The lock step on a Citus shard: returns how many row events the
 * statement fires and, if more than one, first locks what their effects
 * take, shop by shop.  Inside SPI.
 */
int64
om_citus_lock_step(TriggerData *trigdata, const OrderCols *cols)
{
	LockMove   *moves;
	int			nmoves;
	int64		events = ReadStatement(trigdata, cols, &moves, &nmoves);
	int			start;

	if (events <= 1)
		return events;
	for (start = 0; start < nmoves;)
	{
		int			end = start;

		while (end < nmoves && moves[end].shop_id == moves[start].shop_id)
			end++;
		LockCredit(moves[start].shop_id, moves + start, end - start, cols);
		LockPromo(moves[start].shop_id, moves + start, end - start);
		LockStock(moves[start].shop_id, moves + start, end - start);
		start = end;
	}
	return events;
}
