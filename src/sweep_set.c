/*-------------------------------------------------------------------------
 *
 * sweep_set.c
 *	  The set-based side effects of a run_due() set UPDATE (sweep.c).
 *
 * While run_due() updates a set of orders with one statement, the acting
 * context names an OmSweepSet.  The AFTER trigger (order_effects.c) then
 * only notes here the orders that were cancelled (their held stock goes
 * back, their other deadlines are dropped, their archiving is scheduled)
 * and those whose payment failed (their auto-cancel is scheduled), and
 * (0.2.0) those whose automation deadline follows a payment or delivery
 * move (automation.c).
 * om_sweep_set_apply() does each kind for all of them with one statement,
 * right after that UPDATE and in the same subtransaction, in the order the
 * trigger would have done them one by one, so each order gets exactly the
 * per-row effects.  If anything fails, the caller rolls the whole set back
 * and does it one order at a time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "automation.h"
#include "clock.h"
#include "spi_util.h"
#include "stock.h"
#include "sweep.h"

/* The orders of one kind of effect, as parallel arrays of Datums. */
typedef struct OmOrderList
{
	int			n;
	int			max;
	Datum	   *shops;			/* int8 */
	Datum	   *orders;			/* int8 */
	Datum	   *reasons;		/* text (failed orders: the auto-cancel's reason) */
} OmOrderList;

struct OmSweepSet
{
	MemoryContext cxt;			/* where the lists live */
	OmOrderList lists[OM_SET_NUM_EFFECTS];
};

/* A new, empty set in memory under cxt. */
OmSweepSet *
om_sweep_set_begin(MemoryContext cxt)
{
	OmSweepSet *set = MemoryContextAllocZero(cxt, sizeof(OmSweepSet));

	set->cxt = cxt;
	return set;
}

/* Note one order for one kind of effect. */
void
om_sweep_set_note(OmSweepSet *set, OmSetEffect effect, int64 shop_id, int64 order_id,
				  const char *reason)
{
	OmOrderList *list = &set->lists[effect];
	MemoryContext old = MemoryContextSwitchTo(set->cxt);

	if (list->n == list->max)
	{
		list->max = list->max ? list->max * 2 : 256;
		if (list->shops == NULL)
		{
			list->shops = palloc(sizeof(Datum) * list->max);
			list->orders = palloc(sizeof(Datum) * list->max);
			list->reasons = palloc(sizeof(Datum) * list->max);
		}
		else
		{
			list->shops = repalloc(list->shops, sizeof(Datum) * list->max);
			list->orders = repalloc(list->orders, sizeof(Datum) * list->max);
			list->reasons = repalloc(list->reasons, sizeof(Datum) * list->max);
		}
	}
	list->shops[list->n] = Int64GetDatum(shop_id);
	list->orders[list->n] = Int64GetDatum(order_id);
	list->reasons[list->n] = CStringGetTextDatum(reason ? reason : "");
	list->n++;
	MemoryContextSwitchTo(old);
}

/*
 * $1, $2 and $3 of OM_SET_ROWS from n shop ids, order ids and reasons:
 * the parameters every set statement takes (here and in sweep.c).
 */
void
om_set_params(Datum *values, Datum *shops, Datum *orders, Datum *reasons, int n)
{
	values[0] = om_int8_array(shops, n);
	values[1] = om_int8_array(orders, n);
	values[2] = om_text_array(reasons, n);
}

/*
 * Execute a set statement that must find its rows by key, whatever the
 * statistics say: planned (a custom plan) with no bitmap scan, merge join
 * or hash join.  run_due() already plans without sequential scans; but
 * the set's deadlines to drop (action IN four kinds) were then found by a
 * bitmap scan of due_action's whole primary key for the action alone,
 * merge-joined to the set: due_action's statistics were stale (a mass
 * expiry fills it with auto-cancels faster than autovacuum analyzes it),
 * so 1,000 key probes looked dearer.  At 100,000 swept orders that took
 * 50 ms a set and grew with each set, a fifth of the sweep.
 */
static void
ExecByKey(SPIPlanPtr plan, Datum *values)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_mergejoin", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_hashjoin", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	om_exec(plan, values, NULL, false, 0);
	AtEOXact_GUC(true, nest);
}

/*
 * The set-based side effects of the orders a run_due() set UPDATE noted:
 * for the cancelled ones what the trigger does one by one (stock back,
 * deadlines dropped, archiving scheduled), for the failed ones the
 * auto-cancel, for those whose payment or delivery moved on an open order
 * the automation deadline (om_automation_track_set).  Each is one statement over all the orders, in the order
 * the trigger does them.  Inside SPI.
 */
void
om_sweep_set_apply(OmSweepSet *set)
{
	static SPIPlanPtr drop_plan = NULL;
	static SPIPlanPtr archive_plan = NULL;
	static SPIPlanPtr auto_cancel_plan = NULL;
	static const Oid argtypes[] = {INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID};
	Datum		values[4];
	OmOrderList *list;

	om_plan_custom(&drop_plan,
			"DELETE FROM order_mgmt.due_action d USING " OM_SET_ROWS
			" WHERE d.shop_id = u.shop_id AND d.order_id = u.order_id"
			"   AND d.action IN ('payment_timeout', 'auto_cancel', 'hold_end', 'automation_complete')",
			4, argtypes);
	om_plan(&archive_plan,
			"INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, created_at)"
			" SELECT u.shop_id, u.order_id, 'auto_archive', $4 + s.auto_archive_after, $4"
			" FROM " OM_SET_ROWS " JOIN order_mgmt.shop s ON s.shop_id = u.shop_id"
			" WHERE s.auto_archive_after IS NOT NULL"
			" ON CONFLICT (shop_id, order_id, action) DO UPDATE SET due_at = EXCLUDED.due_at",
			4, argtypes);
	om_plan(&auto_cancel_plan,
			"INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, reason, created_at)"
			" SELECT u.shop_id, u.order_id, 'auto_cancel', $4 + s.auto_cancel_delay,"
			"   u.reason::order_mgmt.cancel_reason, $4"
			" FROM " OM_SET_ROWS " JOIN order_mgmt.shop s ON s.shop_id = u.shop_id"
			" WHERE s.auto_cancel_failed"
			" ON CONFLICT (shop_id, order_id, action) DO UPDATE"
			" SET due_at = EXCLUDED.due_at, reason = EXCLUDED.reason",
			4, argtypes);

	values[3] = TimestampTzGetDatum(om_now());

	list = &set->lists[OM_SET_CANCELLED];
	if (list->n > 0)
	{
		om_set_params(values, list->shops, list->orders, list->reasons, list->n);
		om_release_stock_set(values[0], values[1]);
		ExecByKey(drop_plan, values);
		om_exec(archive_plan, values, NULL, false, 0);
	}

	list = &set->lists[OM_SET_FAILED];
	if (list->n > 0)
	{
		om_set_params(values, list->shops, list->orders, list->reasons, list->n);
		om_exec(auto_cancel_plan, values, NULL, false, 0);
	}

	list = &set->lists[OM_SET_TRACKED];
	if (list->n > 0)
		om_automation_track_set(om_int8_array(list->shops, list->n),
								om_int8_array(list->orders, list->n));
}
