/*-------------------------------------------------------------------------
 *
 * deadlines.c
 *	  Deadlines as due_action rows, and run_due() (SPEC §6, §13).
 *
 * payment_timeout	an order still unpaid or pending at payment_due_at
 *					becomes failed (reason payment_timeout); it stays
 *					visible with its stock held (seed 000).
 * auto_cancel		with shop.auto_cancel_failed, a failed order is
 *					cancelled by the system auto_cancel_delay after it
 *					failed, releasing stock and promo.
 * auto_archive		completed and cancelled orders are archived
 *					shop.auto_archive_after later.
 * automation_complete	an automation rule completes the order, if the rule
 *					still matches and the order may complete (SPEC §9).
 * hold_end			the post-purchase hold is over (SPEC §9).
 *
 * An action re-checks its condition when it runs, so a stale row does
 * nothing.  Actions run as actor "system", through plain UPDATEs of the
 * order, so the triggers do their effects as on any other path.
 *
 * run_due() handles many orders in one transaction, so it cannot follow
 * the per-call lock order while it goes through them: there it never
 * waits.  Due rows are taken with SKIP LOCKED, the order row with NOWAIT,
 * and om_nowait makes any other row an action locks NOWAIT too; an order
 * whose rows are busy is left, in its own subtransaction, for the next
 * pass.  The hot counter rows a cancellation gives back to (stock, promo
 * code, per-customer use) are locked so but not written there:
 * sweep_batch.c sums the changes and run_due() writes them at the end,
 * with the batch's events, which are deferred too.  The batch's payment
 * timeouts, usually most of it, go first and at once: one UPDATE of the
 * free orders (SKIP LOCKED), in one subtransaction; then its auto-cancels
 * the same way.  The side effects that have a set-based form (stock given
 * back, deadlines dropped and scheduled) are then done for all the set's
 * orders with one statement each (om_set_effects, order_effects.c).  If
 * anything in a set fails, its orders go one by one like the other actions.
 * Any other error in one order's action is reported as a WARNING and that
 * order is left too, so one bad row cannot stop the sweeper.  API calls
 * apply an order's overdue actions first (om_lock_order), so correctness
 * never depends on the sweeper being on time.
 *
 *-------------------------------------------------------------------------
 */
#include "order_mgmt.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* A batch's timeouts, or its auto-cancels, done with one UPDATE from this many on. */
#define OM_SET_MIN 2

/*
 * What the sweeper's moves change while they run: events say "system", the
 * guard lets the API's columns change, and a payment failure gives its
 * reason.  SystemBegin() saves and sets them; SystemEnd() restores them
 * (in PG_FINALLY).
 */
typedef struct SystemAct
{
	bool		acting_as_system;
	const char *failure_reason;
} SystemAct;

static void
SystemBegin(SystemAct *saved, const char *failure_reason)
{
	saved->acting_as_system = om_acting_as_system;
	saved->failure_reason = om_failure_reason;
	om_acting_as_system = true;
	if (failure_reason)
		om_failure_reason = failure_reason;
	om_api_depth++;
}

static void
SystemEnd(const SystemAct *saved)
{
	om_api_depth--;
	om_acting_as_system = saved->acting_as_system;
	om_failure_reason = saved->failure_reason;
}

/*
 * Perform one due action on an order the caller has locked, and delete its
 * row.  Returns whether the order changed.  Inside SPI.
 */
bool
om_apply_due_action(int64 shop_id, int64 order_id, const char *action, const char *reason)
{
	static SPIPlanPtr timeout_plan = NULL;
	static SPIPlanPtr cancel_plan = NULL;
	static SPIPlanPtr archive_plan = NULL;
	static SPIPlanPtr automation_plan = NULL;
	static SPIPlanPtr hold_plan = NULL;
	static SPIPlanPtr delete_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID};
	static const Oid delete_types[] = {INT8OID, INT8OID, TEXTOID};
	Datum		values[4];
	SystemAct	saved;
	bool		changed = false;

	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(om_now());
	values[3] = CStringGetTextDatum(reason ? reason : "payment_failed");

	om_plan(&timeout_plan,
			"UPDATE order_mgmt.orders SET payment_status = 'failed'"
			" WHERE shop_id = $1 AND order_id = $2 AND status IN ('pending', 'confirmed')"
			"   AND payment_status IN ('unpaid', 'pending') AND payment_due_at <= $3",
			4, argtypes);
	om_plan(&cancel_plan,
			"UPDATE order_mgmt.orders SET status = 'cancelled', cancel_source = 'system',"
			"   cancel_reason = $4::order_mgmt.cancel_reason"
			" WHERE shop_id = $1 AND order_id = $2 AND status IN ('pending', 'confirmed')"
			"   AND payment_status = 'failed' AND reactivated_at IS NULL"
			"   AND delivery_status IN ('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue')",
			4, argtypes);
	om_plan(&archive_plan,
			"UPDATE order_mgmt.orders SET archived_at = $3"
			" WHERE shop_id = $1 AND order_id = $2 AND status IN ('completed', 'cancelled')"
			"   AND archived_at IS NULL",
			4, argtypes);
	/* the rule must still match, and completion's own conditions hold (SPEC §3.1) */
	om_plan(&automation_plan,
			"UPDATE order_mgmt.orders o SET status = 'completed'"
			" FROM order_mgmt.due_action d JOIN order_mgmt.automation_rule r"
			"   ON r.shop_id = d.shop_id AND r.rule_id = d.rule_id"
			" WHERE o.shop_id = $1 AND o.order_id = $2 AND o.status IN ('pending', 'confirmed')"
			"   AND d.shop_id = $1 AND d.order_id = $2 AND d.action = 'automation_complete'"
			"   AND r.enabled AND o.payment_status = ANY (r.payment_in)"
			"   AND o.delivery_status = ANY (r.delivery_in)"
			"   AND (o.payment_status IN ('paid', 'partially_refunded')"
			"        OR (o.logistics = 'cod' AND o.delivery_status = 'collected'))",
			4, argtypes);
	om_plan(&hold_plan,
			"UPDATE order_mgmt.orders SET hold_until = NULL"
			" WHERE shop_id = $1 AND order_id = $2 AND hold_until <= $3",
			4, argtypes);
	om_plan(&delete_plan,
			"DELETE FROM order_mgmt.due_action"
			" WHERE shop_id = $1 AND order_id = $2 AND action = $3::order_mgmt.due_kind",
			3, delete_types);

	SystemBegin(&saved, strcmp(action, "payment_timeout") == 0 ? "payment_timeout" : NULL);
	PG_TRY();
	{
		if (strcmp(action, "payment_timeout") == 0)
			om_exec(timeout_plan, values, NULL, false, 0);
		else if (strcmp(action, "auto_cancel") == 0)
			om_exec(cancel_plan, values, NULL, false, 0);
		else if (strcmp(action, "auto_archive") == 0)
			om_exec(archive_plan, values, NULL, false, 0);
		else if (strcmp(action, "automation_complete") == 0)
			om_exec(automation_plan, values, NULL, false, 0);
		else if (strcmp(action, "hold_end") == 0)
			om_exec(hold_plan, values, NULL, false, 0);
		else
			elog(ERROR, "due action \"%s\" is not known to this version of order_mgmt", action);
		changed = SPI_processed > 0;
		if (changed)
		{
			char	   *detail = psprintf("{\"action\": \"%s\"}", action);

			om_event_write(shop_id, order_id, "deadline", NULL, NULL, detail);
		}
		values[2] = CStringGetTextDatum(action);
		om_exec(delete_plan, values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		SystemEnd(&saved);
	}
	PG_END_TRY();
	return changed;
}

typedef struct DueRow
{
	int64		shop_id;
	int64		order_id;
	char	   *action;
	char	   *reason;
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

/*
 * Every statement of a set takes the same parameters: $1, $2 and $3 the
 * shop ids, order ids and cancel reasons of its orders, $4 now, $5 the
 * action.
 */
#define SET_ROWS \
	"ROWS FROM (pg_catalog.unnest($1::int8[]), pg_catalog.unnest($2::int8[]), pg_catalog.unnest($3::text[]))" \
	" AS u(shop_id, order_id, reason)"
#define SET_KEYS "(SELECT u.shop_id, u.order_id FROM " SET_ROWS ")"

static const Oid set_types[] = {INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID, TEXTOID};

/* $1, $2 and $3 from n shop ids, order ids and reasons. */
static void
SetArrays(Datum *values, Datum *shops, Datum *orders, Datum *reasons, int n)
{
	values[0] = PointerGetDatum(construct_array(shops, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(orders, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(reasons, n, TEXTOID, -1, false, TYPALIGN_INT));
}

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
	SetArrays(values, shops, orders, reasons, (int) n);
}

static void
SweepSet(void *arg)
{
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr counters_plan = NULL;
	static SPIPlanPtr due_plan = NULL;
	static SPIPlanPtr timeout_plan = NULL;
	static SPIPlanPtr cancel_plan = NULL;
	static SPIPlanPtr delete_plan = NULL;
	DueSet	   *set = arg;
	bool		cancel = strcmp(set->action, "auto_cancel") == 0;
	Datum	   *shops = palloc(sizeof(Datum) * set->n);
	Datum	   *orders = palloc(sizeof(Datum) * set->n);
	Datum	   *reasons = palloc(sizeof(Datum) * set->n);
	Datum		values[5];
	uint64		nfree;
	uint64		i;
	int			k;
	SystemAct	saved;
	OmSetEffects effects;

	/* the free orders, skipping busy ones as the one-by-one path's NOWAIT would */
	om_plan(&lock_plan,
			"SELECT u.shop_id, u.order_id, u.reason FROM " SET_ROWS
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
			"WITH o AS (SELECT * FROM " SET_ROWS "),"
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
	 * order at a time).
	 */
	om_plan(&due_plan,
			"SELECT 1 FROM order_mgmt.due_action d WHERE (d.shop_id, d.order_id) IN " SET_KEYS
			" FOR UPDATE OF d NOWAIT",
			5, set_types);
	om_plan(&timeout_plan,
			"UPDATE order_mgmt.orders o SET payment_status = 'failed'"
			" WHERE (o.shop_id, o.order_id) IN " SET_KEYS
			"   AND o.status IN ('pending', 'confirmed')"
			"   AND o.payment_status IN ('unpaid', 'pending') AND o.payment_due_at <= $4"
			" RETURNING o.shop_id, o.order_id",
			5, set_types);
	om_plan(&cancel_plan,
			"UPDATE order_mgmt.orders o SET status = 'cancelled', cancel_source = 'system',"
			"   cancel_reason = u.reason::order_mgmt.cancel_reason"
			" FROM " SET_ROWS
			" WHERE o.shop_id = u.shop_id AND o.order_id = u.order_id"
			"   AND o.status IN ('pending', 'confirmed')"
			"   AND o.payment_status = 'failed' AND o.reactivated_at IS NULL"
			"   AND o.delivery_status IN ('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue')"
			" RETURNING o.shop_id, o.order_id",
			5, set_types);
	om_plan(&delete_plan,
			"DELETE FROM order_mgmt.due_action d WHERE (d.shop_id, d.order_id) IN " SET_KEYS
			"   AND d.action = $5::order_mgmt.due_kind",
			5, set_types);

	for (k = 0; k < set->n; k++)
	{
		DueRow	   *row = &set->rows[set->idx[k]];

		shops[k] = Int64GetDatum(row->shop_id);
		orders[k] = Int64GetDatum(row->order_id);
		reasons[k] = CStringGetTextDatum(row->reason ? row->reason : "payment_failed");
	}
	SetArrays(values, shops, orders, reasons, set->n);
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
		return;
	SetParams(values, SPI_tuptable, nfree);
	SPI_freetuptable(SPI_tuptable);
	om_exec(due_plan, values, NULL, false, 0);
	SPI_freetuptable(SPI_tuptable);

	memset(&effects, 0, sizeof(effects));
	effects.cxt = CurrentMemoryContext;
	SystemBegin(&saved, cancel ? NULL : "payment_timeout");
	effects.depth = om_api_depth;
	PG_TRY();
	{
		char	   *detail = psprintf("{\"action\": \"%s\"}", set->action);
		SPITupleTable *changed;
		uint64		nchanged;

		/* the UPDATE, then its rows' set-based effects (order_effects.c) */
		om_set_effects = &effects;
		om_exec(cancel ? cancel_plan : timeout_plan, values, NULL, false, 0);
		om_set_effects = NULL;
		changed = SPI_tuptable;
		nchanged = SPI_processed;
		om_set_effects_apply(&effects);

		for (i = 0; i < nchanged; i++)
		{
			bool		isnull;

			om_event_write(DatumGetInt64(SPI_getbinval(changed->vals[i], changed->tupdesc, 1, &isnull)),
						   DatumGetInt64(SPI_getbinval(changed->vals[i], changed->tupdesc, 2, &isnull)),
						   "deadline", NULL, NULL, detail);
		}
		SPI_freetuptable(changed);
		om_exec(delete_plan, values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		om_set_effects = NULL;
		SystemEnd(&saved);
	}
	PG_END_TRY();
	set->done = (int32) nfree;
}

/*
 * run_due(max_actions) -> int: performs up to max_actions due actions,
 * skipping what other sessions hold, and returns how many it performed.
 * Safe to run from several sessions at once and from pg_cron.
 */
PG_FUNCTION_INFO_V1(om_run_due);
Datum
om_run_due(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr batch_plan = NULL;
	static const Oid argtypes[] = {TIMESTAMPTZOID, INT4OID};
	int32		max_actions;
	Datum		values[2];
	DueRow	   *rows;
	uint64		n;
	uint64		i;
	volatile int32 done = 0;
	MemoryContext loop_cxt;
	MemoryContext old_cxt;
	bool		saved_nowait = om_nowait;

	OM_ARG_NOT_NULL(0, "max_actions");
	max_actions = PG_GETARG_INT32(0);
	if (max_actions < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_actions must be positive"),
				 errdetail("Got %d.", max_actions)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&batch_plan,
			"SELECT shop_id, order_id, action::text, reason::text FROM order_mgmt.due_action"
			" WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
			2, argtypes);
	values[0] = TimestampTzGetDatum(om_now());
	values[1] = Int32GetDatum(max_actions);
	om_exec(batch_plan, values, NULL, false, 0);

	/* copy the batch out of SPI's memory: each action runs more SPI */
	n = SPI_processed;
	rows = palloc(sizeof(DueRow) * (n + 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		reason;

		rows[i].shop_id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		rows[i].order_id = DatumGetInt64(SPI_getbinval(tup, td, 2, &isnull));
		rows[i].action = TextDatumGetCString(SPI_getbinval(tup, td, 3, &isnull));
		reason = SPI_getbinval(tup, td, 4, &isnull);
		rows[i].reason = isnull ? NULL : TextDatumGetCString(reason);
	}
	SPI_freetuptable(SPI_tuptable);

	loop_cxt = AllocSetContextCreate(CurrentMemoryContext, "order_mgmt run_due",
									 ALLOCSET_DEFAULT_SIZES);
	om_nowait = true;
	om_batch_begin(CurrentMemoryContext);
	PG_TRY();
	{
		/*
		 * The payment timeouts first, all at once, then the auto-cancels;
		 * if a set fails, its rows go one by one with the rest.  The
		 * actions of one order commute: each re-checks its condition.
		 */
		static const char *const set_actions[] = {"payment_timeout", "auto_cancel"};
		bool	   *skip = palloc0(sizeof(bool) * (n + 1));
		int			a;

		for (a = 0; a < lengthof(set_actions); a++)
		{
			DueSet		set;

			set.action = set_actions[a];
			set.rows = rows;
			set.idx = palloc(sizeof(int) * (n + 1));
			set.n = 0;
			set.done = 0;
			for (i = 0; i < n; i++)
				if (strcmp(rows[i].action, set.action) == 0)
					set.idx[set.n++] = (int) i;
			if (set.n >= OM_SET_MIN)
			{
				OmBatchMark mark = om_batch_mark();
				ErrorData  *error = NULL;

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
					om_batch_rewind(mark);
					ereport(DEBUG1,
							(errmsg_internal("order_mgmt: %d due actions %s go one by one: %s",
											 set.n, set.action, error->message)));
				}
				MemoryContextSwitchTo(old_cxt);
				MemoryContextReset(loop_cxt);
				om_batch_spill();
			}
		}

		for (i = 0; i < n; i++)
		{
			ErrorData  *error = NULL;
			OmBatchMark mark;

			if (skip[i])
				continue;
			mark = om_batch_mark();

			old_cxt = MemoryContextSwitchTo(loop_cxt);

			if (om_try(SweepOne, &rows[i], NULL, -1, &error))
				done++;
			else
			{
				om_batch_rewind(mark);
				if (error->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
					/* not a busy row: say so, and leave it for a later pass */
					ereport(WARNING,
							(errmsg("order_mgmt: due action %s of order " INT64_FORMAT " in shop " INT64_FORMAT " failed: %s",
									rows[i].action, rows[i].order_id, rows[i].shop_id, error->message)));
			}
			MemoryContextSwitchTo(old_cxt);
			MemoryContextReset(loop_cxt);
			om_batch_spill();
			CHECK_FOR_INTERRUPTS();
		}
		/* the events, and the stock and promo counters once per row */
		om_batch_flush();
	}
	PG_FINALLY();
	{
		om_batch_end();
		om_nowait = saved_nowait;
	}
	PG_END_TRY();
	MemoryContextDelete(loop_cxt);

	SPI_finish();
	PG_RETURN_INT32(done);
}
