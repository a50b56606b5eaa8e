/*-------------------------------------------------------------------------
 *
 * sweep.c
 *	  run_due(): the due actions of many orders in one call (SPEC §13).
 *
 * run_due() handles many orders in one transaction, so it cannot follow
 * the per-call lock order while it goes through them: there it never
 * waits.  The batch is selected with its locks: the due rows whose order
 * row (FOR NO KEY UPDATE, the strength an UPDATE of the order takes, so
 * API calls, which lock the order FOR UPDATE, and open UPDATEs make us
 * skip it) and due row (FOR UPDATE) no other session holds, SKIP LOCKED
 * inside the query, earliest due first.  An order someone holds is so
 * passed over, not taken and given up, and a batch of n does up to n
 * actions of the free orders behind it (issue 14: the earliest due orders
 * held by an admin used to make every batch do nothing).  The order lock
 * comes first in the query, so a busy order costs no due-row lock.  From
 * there on the acting context says nowait, so any other row an action
 * locks is locked NOWAIT; an order whose rows are busy is left, in its own
 * subtransaction, for the next pass.
 *
 * The hot counter rows a cancellation gives back to (stock, promo code,
 * per-customer use) are locked so but not written there: the batch
 * (sweep_batch.c, OmAct.batch) sums the changes and run_due() writes them
 * at the end, with the batch's events, which are deferred too
 * (OmAct.deferred).
 *
 * The batch's payment timeouts, usually most of it, go first and at once:
 * one UPDATE of the free orders (SKIP LOCKED), in one subtransaction; then
 * its auto-cancels the same way.  The side effects that have a set-based
 * form (stock given back, deadlines dropped and scheduled) are then done
 * for all the set's orders with one statement each (sweep_set.c,
 * OmAct.set).  If anything in a set fails, its orders go one by one like
 * the other actions (due_action.c).
 *
 * What a batch could not do it makes up for in further rounds: while it
 * has done fewer than max_actions and its last round found as many rows as
 * it asked for, it takes the next free due rows, passing over the orders
 * of earlier rounds (it holds their locks, which SKIP LOCKED does not skip
 * for their holder), until it has looked at OM_LOOK_AHEAD times
 * max_actions rows.  So orders whose counter rows a checkout holds do not
 * make a batch return 0 while free orders are due behind them, and the
 * look-ahead bound keeps one batch from locking a whole backlog when a
 * counter row stays held.
 *
 * An action that fails with anything but a busy row (lock_not_available)
 * is reported as a WARNING, and its due row backs off: after the failed
 * subtransaction is rolled back, the batch's own transaction counts the
 * failure on the row (attempts, last_error, failed_at) and moves its
 * due_at to now + 1 minute, doubling with each failure up to 1 hour, so
 * one bad row can neither stop the sweeper nor sit at the head of the
 * queue.  A success deletes the row as before.  (On a 0.1.0 schema, which
 * has no such columns, the row is only left, as 0.1.0 did.)  A payment
 * timeout, which from 0.2.0 has no row while it has not failed (it is
 * orders.payment_due_at, due_action.h), gets its row at its first failure
 * and backs off the same way; while the row exists the batch takes the
 * timeout from it, not from orders.  API calls
 * apply an order's overdue actions first (om_lock_order, order_lock.c), so
 * correctness never depends on the sweeper being on time; a backed-off row
 * is overdue again for them at its new due_at.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "clock.h"
#include "context.h"
#include "due_action.h"
#include "events.h"
#include "machines.h"
#include "om_args.h"
#include "rls.h"
#include "spi_util.h"
#include "sweep.h"

/* A batch's timeouts, or its auto-cancels, done with one UPDATE from this many on. */
#define OM_SET_MIN 2

/* A batch looks at no more than this many times max_actions due rows. */
#define OM_LOOK_AHEAD 4

/*
 * A failed due row is due again this long after the failure, doubled with
 * each further failure (the exponent capped so it cannot overflow), at
 * most OM_BACKOFF_MAX: 1, 2, 4, ... 32 minutes, then every hour.
 */
#define OM_BACKOFF_FIRST "1 minute"
#define OM_BACKOFF_MAX "1 hour"

typedef struct DueRow
{
	int64		shop_id;
	int64		order_id;
	char	   *action;
	char	   *reason;
	bool		has_row;		/* a due_action row (not a payment deadline of orders) */
} DueRow;

/* One order's action, in the sweeper's subtransaction: lock NOWAIT, apply. */
static void
SweepOne(void *arg)
{
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr due_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	DueRow	   *row = arg;
	Datum		values[2];

	/*
	 * The order row, then all its due rows (an action may drop or schedule
	 * others), never waiting: a busy one makes us leave the order for the
	 * next pass.
	 */
	om_plan(&lock_plan,
			"SELECT 1 FROM order_mgmt.orders WHERE shop_id = $1 AND order_id = $2"
			" FOR NO KEY UPDATE NOWAIT",
			2, argtypes);
	om_plan(&due_plan,
			"SELECT 1 FROM order_mgmt.due_action WHERE shop_id = $1 AND order_id = $2"
			" FOR UPDATE NOWAIT",
			2, argtypes);
	values[0] = Int64GetDatum(row->shop_id);
	values[1] = Int64GetDatum(row->order_id);
	om_exec(lock_plan, values, NULL, false, 0);
	om_exec(due_plan, values, NULL, false, 0);
	(void) om_apply_due_action(row->shop_id, row->order_id, row->action, row->reason);
}

/*
 * The payment timeouts or the auto-cancels of a batch, all at once: one
 * UPDATE for the orders that are free rather than one per order, which
 * also prepares the orders' constraints and triggers once instead of once
 * per order.  What it does to each order is what om_apply_due_action()
 * does: the same condition, the same change (so the same trigger effects),
 * a deadline event for each order it changed, and the due row deleted.
 */
typedef struct DueSet
{
	const char *action;			/* payment_timeout or auto_cancel */
	DueRow	   *rows;
	int		   *idx;			/* the set's rows: indexes into rows */
	int			n;
	int32		done;			/* out: orders handled; busy ones are left */
} DueSet;

/* The statements of a set; each takes the parameters OM_SET_ROWS names. */
static const Oid set_types[] = {INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID, TEXTOID};

/* The set's orders as parameters, from rows of (shop_id, order_id, reason). */
static void
SetParams(Datum *values, SPITupleTable *tuptable, uint64 n)
{
	Datum	   *shops = palloc(sizeof(Datum) * n);
	Datum	   *orders = palloc(sizeof(Datum) * n);
	Datum	   *reasons = palloc(sizeof(Datum) * n);
	uint64		i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;

		shops[i] = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 1, &isnull);
		orders[i] = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2, &isnull);
		reasons[i] = PointerGetDatum(DatumGetTextPCopy(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 3, &isnull)));
	}
	om_set_params(values, shops, orders, reasons, (int) n);
}

/*
 * Lock the set's orders that are free, skipping busy ones as the
 * one-by-one path's NOWAIT would (the batch's selection already holds
 * them, so all are free to it; the set does not rely on that), and
 * (auto-cancels) only those whose counter rows are free too; then all
 * their due rows.  Leaves the free orders in values[0..2] and returns how
 * many there are.
 */
static uint64
LockFreeOrders(DueSet *set, bool cancel, Datum *values)
{
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr counters_plan = NULL;
	static SPIPlanPtr due_plan = NULL;
	Datum	   *shops = palloc(sizeof(Datum) * set->n);
	Datum	   *orders = palloc(sizeof(Datum) * set->n);
	Datum	   *reasons = palloc(sizeof(Datum) * set->n);
	uint64		nfree;
	int			k;

	om_plan(&lock_plan,
			"SELECT u.shop_id, u.order_id, u.reason FROM " OM_SET_ROWS
			" JOIN order_mgmt.orders o ON o.shop_id = u.shop_id AND o.order_id = u.order_id"
			" FOR NO KEY UPDATE OF o SKIP LOCKED",
			5, set_types);

	/*
	 * A cancellation gives back to counter rows that checkouts hold for a
	 * moment: of the free orders, those whose counter rows are free too,
	 * locked SKIP LOCKED in the strength the release itself takes them.
	 * (NOT IN over columns that are never NULL: the generic plan guesses
	 * ten orders, and hashes a NOT IN where it would loop over an anti
	 * join, which took 0.1 s for a thousand orders.)
	 */
	om_plan(&counters_plan,
			"WITH o AS (SELECT * FROM " OM_SET_ROWS "),"
			" ns AS MATERIALIZED (SELECT r.shop_id, r.order_id, r.sku, r.bucket"
			"   FROM order_mgmt.reservation r JOIN o ON o.shop_id = r.shop_id AND o.order_id = r.order_id"
			"   WHERE r.state = 'held' AND r.return_id IS NULL),"
			" gs AS MATERIALIZED (SELECT s.shop_id, s.sku, s.bucket FROM order_mgmt.stock s"
			"   WHERE (s.shop_id, s.sku, s.bucket) IN (SELECT shop_id, sku, bucket FROM ns)"
			"   FOR NO KEY UPDATE OF s SKIP LOCKED),"
			" np AS MATERIALIZED (SELECT p.shop_id, p.order_id, p.code_key, p.limited, p.who"
			"   FROM order_mgmt.promo_redemption p JOIN o ON o.shop_id = p.shop_id AND o.order_id = p.order_id"
			"   WHERE p.state = 'active'),"
			" gc AS MATERIALIZED (SELECT c.shop_id, c.code_key FROM order_mgmt.promo_code c"
			"   WHERE (c.shop_id, c.code_key) IN (SELECT shop_id, code_key FROM np WHERE limited)"
			"   FOR NO KEY UPDATE OF c SKIP LOCKED),"
			" gu AS MATERIALIZED (SELECT w.shop_id, w.code_key, w.who FROM order_mgmt.promo_customer_use w"
			"   WHERE (w.shop_id, w.code_key, w.who) IN (SELECT shop_id, code_key, who FROM np WHERE who IS NOT NULL)"
			"   FOR UPDATE OF w SKIP LOCKED),"
			" busy AS (SELECT shop_id, order_id FROM ns"
			"     WHERE (shop_id, sku, bucket) NOT IN (SELECT shop_id, sku, bucket FROM gs)"
			"   UNION SELECT shop_id, order_id FROM np"
			"     WHERE limited AND (shop_id, code_key) NOT IN (SELECT shop_id, code_key FROM gc)"
			"   UNION SELECT shop_id, order_id FROM np"
			"     WHERE who IS NOT NULL AND (shop_id, code_key, who) NOT IN (SELECT shop_id, code_key, who FROM gu))"
			" SELECT o.shop_id, o.order_id, o.reason FROM o"
			" WHERE (o.shop_id, o.order_id) NOT IN (SELECT shop_id, order_id FROM busy)",
			5, set_types);

	/*
	 * Then all their due rows NOWAIT (an action may drop or schedule
	 * others; a busy one fails the set, and the batch falls back to one
	 * order at a time).  This and the set's other statements on
	 * due_action are custom plans (om_plan_custom): a sweep changes its
	 * size by thousands of rows a second.  LoadBatch's are not: their
	 * generic plan is the ordered index scan with LIMIT, where a custom
	 * plan sorted every due row (100 ms a batch at 100,000).
	 */
	om_plan_custom(&due_plan,
			"SELECT 1 FROM order_mgmt.due_action d WHERE (d.shop_id, d.order_id) IN " OM_SET_KEYS
			" FOR UPDATE OF d NOWAIT",
			5, set_types);
	for (k = 0; k < set->n; k++)
	{
		DueRow	   *row = &set->rows[set->idx[k]];

		shops[k] = Int64GetDatum(row->shop_id);
		orders[k] = Int64GetDatum(row->order_id);
		reasons[k] = CStringGetTextDatum(row->reason ? row->reason : "payment_failed");
	}
	om_set_params(values, shops, orders, reasons, set->n);
	values[3] = TimestampTzGetDatum(om_now());
	values[4] = CStringGetTextDatum(set->action);

	om_exec(lock_plan, values, NULL, false, 0);
	if (cancel && SPI_processed > 0)
	{
		SetParams(values, SPI_tuptable, SPI_processed);
		SPI_freetuptable(SPI_tuptable);
		om_exec(counters_plan, values, NULL, false, 0);
	}
	nfree = SPI_processed;
	if (nfree == 0)
		return 0;
	SetParams(values, SPI_tuptable, nfree);
	SPI_freetuptable(SPI_tuptable);
	om_exec(due_plan, values, NULL, false, 0);
	SPI_freetuptable(SPI_tuptable);
	return nfree;
}

/* Whether any of the set's actions is a due_action row. */
static bool
SetHasRows(const DueSet *set)
{
	int			k;

	for (k = 0; k < set->n; k++)
		if (set->rows[set->idx[k]].has_row)
			return true;
	return false;
}

/*
 * The set's one UPDATE, as the system, noting its rows' set-based effects,
 * which are then done for all of them (sweep_set.c); a deadline event per
 * changed order; its due rows deleted.
 */
static void
UpdateSet(DueSet *set, bool cancel, Datum *values)
{
	static SPIPlanPtr timeout_plan = NULL;
	static SPIPlanPtr cancel_plan = NULL;
	static SPIPlanPtr delete_plan = NULL;
	OmAct		saved;
	OmAct	   *act;
	OmSweepSet *effects = om_sweep_set_begin(CurrentMemoryContext);

	om_plan(&timeout_plan,
			"UPDATE order_mgmt.orders o SET payment_status = 'failed'"
			" WHERE (o.shop_id, o.order_id) IN " OM_SET_KEYS
			"   AND o.status IN ('pending', 'confirmed')"
			"   AND o.payment_status IN ('unpaid', 'pending') AND o.payment_due_at <= $4"
			" RETURNING o.shop_id, o.order_id",
			5, set_types);
	om_plan(&cancel_plan,
			"UPDATE order_mgmt.orders o SET status = 'cancelled', cancel_source = 'system',"
			"   cancel_reason = u.reason::order_mgmt.cancel_reason"
			" FROM " OM_SET_ROWS
			" WHERE o.shop_id = u.shop_id AND o.order_id = u.order_id"
			"   AND o.status IN ('pending', 'confirmed')"
			"   AND o.payment_status = 'failed' AND o.reactivated_at IS NULL"
			"   AND o.delivery_status IN " OM_PRE_SHIPMENT_SQL
			" RETURNING o.shop_id, o.order_id",
			5, set_types);
	om_plan_custom(&delete_plan,
			"DELETE FROM order_mgmt.due_action d WHERE (d.shop_id, d.order_id) IN " OM_SET_KEYS
			"   AND d.action = $5::order_mgmt.due_kind",
			5, set_types);

	act = om_act_system(&saved, cancel ? NULL : "payment_timeout");
	PG_TRY();
	{
		char	   *detail = psprintf("{\"action\": \"%s\"}", set->action);
		SPITupleTable *changed;
		uint64		nchanged;
		uint64		i;

		act->set = effects;
		act->set_depth = act->api_depth;
		om_exec(cancel ? cancel_plan : timeout_plan, values, NULL, false, 0);
		act->set = NULL;
		changed = SPI_tuptable;
		nchanged = SPI_processed;
		om_sweep_set_apply(effects);

		for (i = 0; i < nchanged; i++)
		{
			bool		isnull;

			om_event_write(DatumGetInt64(SPI_getbinval(changed->vals[i], changed->tupdesc, 1, &isnull)),
						   DatumGetInt64(SPI_getbinval(changed->vals[i], changed->tupdesc, 2, &isnull)),
						   "deadline", NULL, NULL, detail);
		}
		SPI_freetuptable(changed);
		/* payment timeouts from orders.payment_due_at have no row to delete */
		if (SetHasRows(set))
			om_exec(delete_plan, values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		om_act_pop(&saved);
	}
	PG_END_TRY();
}

/* A set, in its own subtransaction (om_try): its free orders, then the UPDATE. */
static void
SweepSet(void *arg)
{
	DueSet	   *set = arg;
	bool		cancel = strcmp(set->action, "auto_cancel") == 0;
	Datum		values[5];
	uint64		nfree;

	nfree = LockFreeOrders(set, cancel, values);
	if (nfree == 0)
		return;
	UpdateSet(set, cancel, values);
	set->done = (int32) nfree;
}

/* The orders a batch has taken in its earlier rounds. */
typedef struct SeenOrders
{
	Datum	   *shops;
	Datum	   *orders;
	int			n;
	int			size;
} SeenOrders;

/*
 * Where a round's due actions come from: the due rows, or (0.2.0,
 * due_action.h) the orders past their payment deadline.  Each is a
 * locking query in due order; the round merges the two by due time.  On
 * PostgreSQL a source is a cursor fetched a row at a time, so that it
 * locks only the rows the merge takes (and the one it looks at next); on
 * Citus, whose cursors run the whole query anyway, it is the query's rows.
 */
typedef struct DueSource
{
	Portal		portal;			/* the cursor, or NULL (Citus) */
	SPITupleTable *tt;			/* the current fetch, or all the rows */
	uint64		n;				/* rows in tt */
	uint64		next;			/* the next row of tt */
	HeapTuple	row;			/* the current row; NULL once done */
} DueSource;

/* Move to the source's next row (row is NULL when there is none). */
static void
SourceNext(DueSource *s)
{
	if (s->portal)
	{
		if (s->tt)
			SPI_freetuptable(s->tt);
		SPI_cursor_fetch(s->portal, true, 1);
		s->tt = SPI_tuptable;
		s->n = SPI_processed;
		s->next = 0;
	}
	s->row = s->next < s->n ? s->tt->vals[s->next++] : NULL;
}

static void
SourceOpen(DueSource *s, SPIPlanPtr plan, Datum *values, const char *nulls)
{
	memset(s, 0, sizeof(DueSource));
	if (om_on_citus())
	{
		om_exec(plan, values, nulls, false, 0);
		s->tt = SPI_tuptable;
		s->n = SPI_processed;
	}
	else
		s->portal = SPI_cursor_open(NULL, plan, values, nulls, false);
	SourceNext(s);
}

static void
SourceClose(DueSource *s)
{
	if (s->tt)
		SPI_freetuptable(s->tt);
	if (s->portal)
		SPI_cursor_close(s->portal);
}

/* The due time of the source's current row (column 5). */
static TimestampTz
SourceDue(const DueSource *s)
{
	bool		isnull;

	return DatumGetTimestampTz(SPI_getbinval(s->row, s->tt->tupdesc, 5, &isnull));
}

/* A due action from a row of (shop_id, order_id, action, reason, due_at). */
static void
CopyDueRow(DueRow *row, HeapTuple tup, TupleDesc td)
{
	bool		isnull;
	Datum		reason;

	row->shop_id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
	row->order_id = DatumGetInt64(SPI_getbinval(tup, td, 2, &isnull));
	row->action = TextDatumGetCString(SPI_getbinval(tup, td, 3, &isnull));
	reason = SPI_getbinval(tup, td, 4, &isnull);
	row->reason = isnull ? NULL : TextDatumGetCString(reason);
	row->has_row = true;
}

/*
 * One round of the batch: up to want due actions, earliest due first,
 * whose order row (and due row) no other session holds, locked in the
 * selection (SKIP LOCKED: the order FOR NO KEY UPDATE, first, then the due
 * row FOR UPDATE) and copied out of SPI.  Passes over the orders of
 * earlier rounds.  An order with several due rows gives one row each.
 *
 * From 0.2.0 the payment timeouts come from orders too (due_action.h): a
 * second query, over orders_payment_due, locks the orders past their
 * payment deadline (SKIP LOCKED) that have no failing timeout row, and the
 * round merges it with the due rows by due time (a tie: the due row
 * first).  Not one UNION query: a plan cannot keep the order of rows it
 * locks, so it would sort (and lock) all that is due before taking want.
 */
static DueRow *
LoadBatch(int32 want, const SeenOrders *seen, const int64 *shop, uint64 *nrows)
{
	/* [one shop][later round][0: due rows, 1: payment timeouts] */
	static SPIPlanPtr plans[2][2][2];
	static const Oid argtypes[] = {TIMESTAMPTZOID, INT4OID, INT8ARRAYOID, INT8ARRAYOID, INT8OID};
	Datum		values[5];
	const char *nulls;
	DueRow	   *rows;
	uint64		n = 0;
	int			one_shop = shop != NULL;
	int			later = seen->n > 0;
	int			nargs = one_shop ? 5 : later ? 4 : 2;
	DueSource	due;
	DueSource	timeouts;
	uint64		size;

#define OM_BATCH_SELECT \
	"SELECT d.shop_id, d.order_id, d.action::text, d.reason::text, d.due_at" \
	" FROM order_mgmt.due_action d" \
	" JOIN order_mgmt.orders o ON o.shop_id = d.shop_id AND o.order_id = d.order_id" \
	" WHERE d.due_at <= $1"
#define OM_BATCH_LOCK \
	" ORDER BY d.due_at LIMIT $2" \
	" FOR NO KEY UPDATE OF o SKIP LOCKED FOR UPDATE OF d SKIP LOCKED"
#define OM_BATCH_SEEN(d) \
	" AND (" d ".shop_id, " d ".order_id) NOT IN (SELECT s.shop_id, s.order_id FROM" \
	"   ROWS FROM (pg_catalog.unnest($3::int8[]), pg_catalog.unnest($4::int8[])) AS s(shop_id, order_id))"
/* one shop's: every table says shop_id = $5, which Citus routes to its shard */
#define OM_BATCH_SHOP " AND d.shop_id = $5 AND o.shop_id = $5"
#define OM_BATCH_SQL(SHOP, SEEN) OM_BATCH_SELECT SHOP SEEN OM_BATCH_LOCK
#define OM_TIMEOUTS_SQL(SHOP, SEEN) \
	"SELECT p.shop_id, p.order_id, 'payment_timeout', NULL::text, p.payment_due_at" \
	" FROM order_mgmt.orders p" \
	" WHERE p.payment_due_at <= $1 AND" OM_AWAITING_PAYMENT("p") SHOP SEEN \
	"   AND" OM_NO_TIMEOUT_ROW("p") \
	" ORDER BY p.payment_due_at LIMIT $2 FOR NO KEY UPDATE OF p SKIP LOCKED"
	static const char *const sql[2][2][2] = {
		{{OM_BATCH_SQL("", ""), OM_TIMEOUTS_SQL("", "")},
		 {OM_BATCH_SQL("", OM_BATCH_SEEN("d")), OM_TIMEOUTS_SQL("", OM_BATCH_SEEN("p"))}},
		{{OM_BATCH_SQL(OM_BATCH_SHOP, ""), OM_TIMEOUTS_SQL(" AND p.shop_id = $5", "")},
		 {OM_BATCH_SQL(OM_BATCH_SHOP, OM_BATCH_SEEN("d")),
		  OM_TIMEOUTS_SQL(" AND p.shop_id = $5", OM_BATCH_SEEN("p"))}},
	};
#undef OM_BATCH_SELECT
#undef OM_BATCH_LOCK
#undef OM_BATCH_SEEN
#undef OM_BATCH_SHOP
#undef OM_BATCH_SQL
#undef OM_TIMEOUTS_SQL

	values[0] = TimestampTzGetDatum(om_now());
	values[1] = Int32GetDatum(want);
	values[2] = values[3] = values[4] = (Datum) 0;
	if (later)
	{
		values[2] = om_int8_array(seen->shops, seen->n);
		values[3] = om_int8_array(seen->orders, seen->n);
	}
	if (shop)
		values[4] = Int64GetDatum(*shop);
	nulls = (one_shop && !later) ? "  nn " : NULL;	/* $3, $4 unused */
	om_plan(&plans[one_shop][later][0], sql[one_shop][later][0], nargs, argtypes);

	/* a 0.1.0 schema: the due rows alone */
	if (!om_timeouts_on_orders())
	{
		om_exec(plans[one_shop][later][0], values, nulls, false, 0);
		rows = palloc(sizeof(DueRow) * (SPI_processed + 1));
		for (n = 0; n < SPI_processed; n++)
			CopyDueRow(&rows[n], SPI_tuptable->vals[n], SPI_tuptable->tupdesc);
		SPI_freetuptable(SPI_tuptable);
		*nrows = n;
		return rows;
	}

	om_plan(&plans[one_shop][later][1], sql[one_shop][later][1], nargs, argtypes);
	SourceOpen(&due, plans[one_shop][later][0], values, nulls);
	SourceOpen(&timeouts, plans[one_shop][later][1], values, nulls);
	/* grown as rows come: want may be run_due(2147483647)'s */
	size = Min(want, 1024) + 1;
	rows = palloc(sizeof(DueRow) * size);
	while (n < (uint64) want && (due.row || timeouts.row))
	{
		DueSource  *s = !timeouts.row ? &due : !due.row ? &timeouts :
			SourceDue(&due) <= SourceDue(&timeouts) ? &due : &timeouts;

		if (n + 1 >= size)
		{
			size *= 2;
			rows = repalloc(rows, sizeof(DueRow) * size);
		}
		CopyDueRow(&rows[n], s->row, s->tt->tupdesc);
		rows[n++].has_row = (s == &due);
		SourceNext(s);
	}
	SourceClose(&due);
	SourceClose(&timeouts);
	*nrows = n;
	return rows;
}

/* Note a round's orders, so that later rounds pass over them. */
static void
SeeOrders(SeenOrders *seen, const DueRow *rows, uint64 n)
{
	uint64		i;

	for (i = 0; i < n; i++)
	{
		if (seen->n == seen->size)
		{
			seen->size = Max(16, seen->size * 2);
			seen->shops = seen->shops ? repalloc(seen->shops, sizeof(Datum) * seen->size)
				: palloc(sizeof(Datum) * seen->size);
			seen->orders = seen->orders ? repalloc(seen->orders, sizeof(Datum) * seen->size)
				: palloc(sizeof(Datum) * seen->size);
		}
		seen->shops[seen->n] = Int64GetDatum(rows[i].shop_id);
		seen->orders[seen->n] = Int64GetDatum(rows[i].order_id);
		seen->n++;
	}
}

/* Whether due_action has the backoff columns (0.2.0 on; not a 0.1.0 schema). */
static bool
HasBackoff(void)
{
	return om_has_column("due_action", "attempts");
}

/*
 * A due action failed with an error other than a busy row (its
 * subtransaction is rolled back): say so in a WARNING and, in the batch's
 * own transaction, which holds the row, count the failure on it and move
 * it later (OM_BACKOFF_FIRST doubling, at most OM_BACKOFF_MAX), so that it
 * does not come back at the head of every pass.
 */
static void
BackOff(const DueRow *row, const ErrorData *error)
{
	static SPIPlanPtr row_plan = NULL;
	static SPIPlanPtr next_plan = NULL;
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID};
	bool		upgraded = HasBackoff();
	int32		attempts = 0;
	TimestampTz due_at = 0;

	if (upgraded)
	{
		Datum		values[7];
		bool		isnull;

		/*
		 * The new due_at is computed in a SELECT, and the UPDATE only sets
		 * values: Citus refuses a STABLE function (timestamptz + interval)
		 * of a column in an UPDATE.  The batch holds the row.
		 *
		 * A payment timeout (0.2.0, due_action.h) has a row only once it
		 * fails: it is made here, at payment_due_at, if the order still
		 * awaits payment (the batch holds the order), then backs off as
		 * any other.  While it exists, it is the order's timeout.
		 */
		om_plan(&row_plan,
				"INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, created_at)"
				" SELECT o.shop_id, o.order_id, 'payment_timeout', o.payment_due_at, $5"
				" FROM order_mgmt.orders o"
				" WHERE o.shop_id = $1 AND o.order_id = $2 AND" OM_AWAITING_PAYMENT("o")
				" ON CONFLICT (shop_id, order_id, action) DO NOTHING",
				5, argtypes);
		om_plan(&next_plan,
				"SELECT d.attempts + 1,"
				"   $5 + LEAST(interval '" OM_BACKOFF_FIRST "' * pg_catalog.power(2, LEAST(d.attempts, 16)),"
				"              interval '" OM_BACKOFF_MAX "')"
				" FROM order_mgmt.due_action d"
				" WHERE d.shop_id = $1 AND d.order_id = $2 AND d.action = $3::order_mgmt.due_kind",
				5, argtypes);
		om_plan(&plan,
				"UPDATE order_mgmt.due_action d SET attempts = $6, last_error = $4, failed_at = $5, due_at = $7"
				" WHERE d.shop_id = $1 AND d.order_id = $2 AND d.action = $3::order_mgmt.due_kind",
				7, argtypes);
		values[0] = Int64GetDatum(row->shop_id);
		values[1] = Int64GetDatum(row->order_id);
		values[2] = CStringGetTextDatum(row->action);
		values[3] = CStringGetTextDatum(error->message ? error->message : "");
		values[4] = TimestampTzGetDatum(om_now());
		if (strcmp(row->action, "payment_timeout") == 0 && om_timeouts_on_orders())
			om_exec(row_plan, values, NULL, false, 0);
		om_exec(next_plan, values, NULL, false, 0);
		/* none if an earlier action of the batch dropped the row */
		if (SPI_processed > 0)
		{
			attempts = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			due_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
			values[5] = Int32GetDatum(attempts);
			values[6] = TimestampTzGetDatum(due_at);
			SPI_freetuptable(SPI_tuptable);
			om_exec(plan, values, NULL, false, 0);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	ereport(WARNING,
			(errmsg("due action %s of order " INT64_FORMAT " in shop " INT64_FORMAT " failed: %s",
					row->action, row->order_id, row->shop_id, error->message),
			 attempts > 0 ?
			 errdetail_plural("It has failed %d time; it is due again at %s.",
							  "It has failed %d times; it is due again at %s.",
							  attempts, attempts, timestamptz_to_str(due_at)) : 0,
			 !upgraded ?
			 errhint("ALTER EXTENSION order_mgmt UPDATE lets a failing due action back off.") :
			 attempts > 0 ?
			 errhint("Its attempts, last_error and failed_at are in order_mgmt.due_action.") : 0));
}

/*
 * The payment timeouts first, all at once, then the auto-cancels; a set
 * that fails is rewound and its rows go one by one with the rest (skip[]
 * marks the rows a set did).  The actions of one order commute: each
 * re-checks its condition.  Returns how many orders the sets did.
 */
static int32
RunSets(OmBatch *batch, DueRow *rows, uint64 n, bool *skip, MemoryContext loop_cxt)
{
	static const char *const set_actions[] = {"payment_timeout", "auto_cancel"};
	int32		done = 0;
	int			a;
	uint64		i;

	for (a = 0; a < lengthof(set_actions); a++)
	{
		DueSet		set;
		OmBatchMark mark;
		ErrorData  *error = NULL;
		MemoryContext old_cxt;

		set.action = set_actions[a];
		set.rows = rows;
		set.idx = palloc(sizeof(int) * (n + 1));
		set.n = 0;
		set.done = 0;
		for (i = 0; i < n; i++)
			if (strcmp(rows[i].action, set.action) == 0)
				set.idx[set.n++] = (int) i;
		if (set.n < OM_SET_MIN)
			continue;

		mark = om_batch_mark(batch);
		old_cxt = MemoryContextSwitchTo(loop_cxt);
		if (om_try(SweepSet, &set, NULL, -1, &error))
		{
			int			k;

			done += set.done;
			for (k = 0; k < set.n; k++)
				skip[set.idx[k]] = true;
		}
		else
		{
			om_batch_rewind(batch, mark);
			ereport(DEBUG1,
					(errmsg_internal("order_mgmt: %d due actions %s go one by one: %s",
									 set.n, set.action, error->message)));
		}
		MemoryContextSwitchTo(old_cxt);
		MemoryContextReset(loop_cxt);
		om_batch_spill(batch);
	}
	return done;
}

/*
 * The rest one order at a time, each in its own subtransaction: a busy
 * row leaves the order for the next pass, any other error backs the row
 * off (BackOff).  batch is NULL when the actions write their own changes.
 * Returns how many it did.
 */
static int32
RunOneByOne(OmBatch *batch, DueRow *rows, uint64 n, const bool *skip, MemoryContext loop_cxt)
{
	int32		done = 0;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		ErrorData  *error = NULL;
		OmBatchMark mark = {0};
		MemoryContext old_cxt;

		if (skip[i])
			continue;
		if (batch)
			mark = om_batch_mark(batch);
		old_cxt = MemoryContextSwitchTo(loop_cxt);
		if (om_try(SweepOne, &rows[i], NULL, -1, &error))
			done++;
		else
		{
			if (batch)
				om_batch_rewind(batch, mark);
			if (error->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
				BackOff(&rows[i], error);
		}
		MemoryContextSwitchTo(old_cxt);
		MemoryContextReset(loop_cxt);
		if (batch)
			om_batch_spill(batch);
		CHECK_FOR_INTERRUPTS();
	}
	return done;
}

/*
 * A run_due() call: up to max_actions due actions, of every shop or (shop
 * not NULL) of one.  Its statements, and the triggers' statements its
 * updates fire, run with enable_seqscan off: each looks rows up by key, and
 * a kept generic plan made while due_action was small (it holds only the
 * failing payment timeouts, auto-cancels, hold ends, automation and
 * archiving) scanned it whole for every order once a mass expiry had
 * filled it with auto-cancels, until autovacuum analyzed it: each batch
 * took longer than the one before (20,000 orders swept at 1,173 orders/s
 * instead of 6,752).  Plans made here pick the index whatever the
 * statistics say; the setting ends with the call.  It goes in rounds (see the file header): another
 * round while fewer than max_actions are done, the last round was full
 * and fewer than OM_LOOK_AHEAD * max_actions rows have been looked at.
 * The batch runs with nowait, its counter changes summed and its events
 * deferred (the acting context), all written at its end; except one
 * shop's on Citus (sets = false), where each action writes its own, as an
 * API call does: the set and flush statements take arrays of shops, which
 * Citus cannot route to the shop's shard (docs/citus.md).
 */
static int32
RunDue(const int64 *shop, int32 max_actions, bool sets)
{
	volatile int32 done = 0;
	MemoryContext loop_cxt;
	OmBatch    *batch;
	OmAct		saved;
	OmAct	   *act;
	int			guc_level;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	guc_level = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	loop_cxt = AllocSetContextCreate(CurrentMemoryContext, "order_mgmt run_due",
									 ALLOCSET_DEFAULT_SIZES);
	batch = sets ? om_batch_begin(CurrentMemoryContext) : NULL;
	act = om_act_push(&saved);
	act->nowait = true;
	if (sets)
	{
		act->batch = batch;
		act->deferred = om_batch_events(batch);
	}
	PG_TRY();
	{
		int64		budget = (int64) max_actions * OM_LOOK_AHEAD;
		SeenOrders	seen = {0};

		while (done < max_actions && budget > 0)
		{
			int32		want = (int32) Min((int64) (max_actions - done), budget);
			uint64		n;
			DueRow	   *rows = LoadBatch(want, &seen, shop, &n);
			bool	   *skip = palloc0(sizeof(bool) * (n + 1));

			if (sets)
				done += RunSets(batch, rows, n, skip, loop_cxt);
			done += RunOneByOne(batch, rows, n, skip, loop_cxt);
			budget -= (int64) n;
			if (n < (uint64) want)
				break;			/* nothing more is due and free */
			SeeOrders(&seen, rows, n);
		}
		/* the events, and the stock and promo counters once per row */
		if (sets)
			om_batch_flush(batch);
	}
	PG_FINALLY();
	{
		om_act_pop(&saved);
		if (sets)
			om_batch_end(batch);
	}
	PG_END_TRY();
	MemoryContextDelete(loop_cxt);
	AtEOXact_GUC(true, guc_level);

	SPI_finish();
	return done;
}

/* max_actions, which must be positive. */
static int32
MaxActions(FunctionCallInfo fcinfo, int argno)
{
	int32		max_actions;

	OM_ARG_NOT_NULL(argno, "max_actions");
	max_actions = PG_GETARG_INT32(argno);
	if (max_actions < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_actions must be positive"),
				 errdetail("Got %d.", max_actions)));
	return max_actions;
}

/*
 * run_due(max_actions) -> int: performs up to max_actions due actions of
 * any shop, skipping what other sessions hold, and returns how many it
 * performed.  Safe to run from several sessions at once and from pg_cron.
 * Every shop: 42501 for a role row-level security restricts.
 */
PG_FUNCTION_INFO_V1(om_run_due);
Datum
om_run_due(PG_FUNCTION_ARGS)
{
	int32		max_actions = MaxActions(fcinfo, 0);

	(void) om_rls_check_all_shops("run_due()", false);
	PG_RETURN_INT32(RunDue(NULL, max_actions, true));
}

/*
 * run_due_shop(shop_id, max_actions) -> int: the same for one shop's orders.
 * Distributed by shop_id on Citus (order_mgmt.distribute()), so a call
 * runs on the shop's worker and every statement of its batch, which says
 * shop_id = $5, on the shop's shards.  A shop that does not exist has
 * nothing due: 0.
 */
PG_FUNCTION_INFO_V1(om_run_due_shop);
Datum
om_run_due_shop(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	int32		max_actions;

	OM_SHOP_ARG(0);
	shop_id = PG_GETARG_INT64(0);
	max_actions = MaxActions(fcinfo, 1);
	PG_RETURN_INT32(RunDue(&shop_id, max_actions,
						   !om_on_citus()));
}
