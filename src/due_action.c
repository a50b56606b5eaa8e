/*-------------------------------------------------------------------------
 *
 * due_action.c
 *	  One order's due action (SPEC §6, §9, §13): what a due_action row asks
 *	  for, done on an order the caller has locked.
 *
 * payment_timeout	an order still unpaid or pending at payment_due_at
 *					becomes failed (reason payment_timeout); it stays
 *					visible with its stock held (seed 000).  From 0.2.0
 *					this deadline is the column itself, found by the
 *					index orders_payment_due, with a due_action row only
 *					while it fails (due_action.h).
 * auto_cancel		with shop.auto_cancel_failed, a failed order is
 *					cancelled by the system auto_cancel_delay after it
 *					failed, releasing stock and promo.
 * auto_archive		completed and cancelled orders are archived
 *					shop.auto_archive_after later.
 * automation_complete	an automation rule completes the order, if the rule
 *					still matches and the order may complete (SPEC §9),
 *					and its return window has passed (SPEC §11): if the
 *					window ends later, the deadline moves to its end.
 *					With a window set, an order not yet delivered does
 *					not complete.
 * hold_end			the post-purchase hold is over (SPEC §9).
 *
 * An action re-checks its condition when it runs, so a stale row does
 * nothing.  Actions run as actor "system" (the acting context), through
 * plain UPDATEs of the order, so the triggers do their effects as on any
 * other path.  Two callers: om_lock_order() applies an order's overdue
 * actions before any API call acts on it (order_lock.c), and run_due()
 * sweeps them (sweep.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "clock.h"
#include "context.h"
#include "due_action.h"
#include "events.h"
#include "machines.h"
#include "spi_util.h"

/* What an automation deadline did. */
typedef enum AutomationOutcome
{
	AUTOMATION_NOTHING,			/* the rule or the order no longer allow it */
	AUTOMATION_COMPLETED,
	AUTOMATION_POSTPONED		/* the return window is still open */
} AutomationOutcome;

/*
 * An automation deadline: complete the order.  If it did not because the
 * order's return window is still open, the deadline moves to the window's
 * end instead, with an event saying so.
 */
static AutomationOutcome
CompleteOrPostpone(int64 shop_id, int64 order_id, Datum *values)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_010 = NULL;
	static SPIPlanPtr postpone_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID};

	/*
	 * The rule must still match, and completion's own conditions hold (SPEC
	 * §3.1), and the shop's return window has passed (SPEC §11; a 0.1.0
	 * schema has none).
	 */
#define AUTOMATION_SQL(WINDOW_JOIN, WINDOW) \
	"UPDATE order_mgmt.orders o SET status = 'completed'" \
	" FROM order_mgmt.due_action d JOIN order_mgmt.automation_rule r" \
	"   ON r.shop_id = d.shop_id AND r.rule_id = d.rule_id" WINDOW_JOIN \
	" WHERE o.shop_id = $1 AND o.order_id = $2 AND o.status IN ('pending', 'confirmed')" \
	"   AND d.shop_id = $1 AND d.order_id = $2 AND d.action = 'automation_complete'" \
	"   AND r.enabled AND o.payment_status = ANY (r.payment_in)" \
	"   AND o.delivery_status = ANY (r.delivery_in)" \
	"   AND (o.payment_status IN ('paid', 'partially_refunded')" \
	"        OR (o.logistics = 'cod' AND o.delivery_status = 'collected'))" WINDOW

	if (!om_has_column("shop", "return_window"))
	{
		om_plan(&plan_010, AUTOMATION_SQL("", ""), 4, argtypes);
		om_exec(plan_010, values, NULL, false, 0);
		return SPI_processed > 0 ? AUTOMATION_COMPLETED : AUTOMATION_NOTHING;
	}
	om_plan(&plan,
			AUTOMATION_SQL(" JOIN order_mgmt.shop s ON s.shop_id = d.shop_id AND s.shop_id = $1",
						   "   AND (s.return_window IS NULL OR o.delivered_at + s.return_window <= $3)"),
			4, argtypes);
#undef AUTOMATION_SQL
	om_exec(plan, values, NULL, false, 0);
	if (SPI_processed > 0)
		return AUTOMATION_COMPLETED;

	/* not completed because the window is still open: due again at its end */
	om_plan(&postpone_plan,
			"UPDATE order_mgmt.due_action d SET due_at = o.delivered_at + s.return_window"
			" FROM order_mgmt.orders o JOIN order_mgmt.shop s ON s.shop_id = o.shop_id"
			" WHERE d.shop_id = $1 AND d.order_id = $2 AND d.action = 'automation_complete'"
			"   AND o.shop_id = $1 AND o.order_id = $2 AND s.shop_id = $1"
			"   AND o.status IN ('pending', 'confirmed')"
			"   AND o.delivered_at + s.return_window > $3"
			" RETURNING pg_catalog.to_json(d.due_at AT TIME ZONE 'UTC') #>> '{}'",
			4, argtypes);
	om_exec(postpone_plan, values, NULL, false, 0);
	if (SPI_processed == 0)
		return AUTOMATION_NOTHING;
	om_event_write(shop_id, order_id, "deadline", NULL, NULL,
				   psprintf("{\"action\": \"automation_complete\", \"postponed_to\": \"%sZ\", \"reason\": \"return_window\"}",
							SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)));
	return AUTOMATION_POSTPONED;
}

/*
 * Perform one due action on an order the caller has locked, and delete its
 * row (an automation deadline that waits for a return window moves
 * instead).  Returns whether the order changed.  Inside SPI.
 */
bool
om_apply_due_action(int64 shop_id, int64 order_id, const char *action, const char *reason)
{
	static SPIPlanPtr timeout_plan = NULL;
	static SPIPlanPtr cancel_plan = NULL;
	static SPIPlanPtr archive_plan = NULL;
	static SPIPlanPtr hold_plan = NULL;
	static SPIPlanPtr delete_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID};
	static const Oid delete_types[] = {INT8OID, INT8OID, TEXTOID};
	Datum		values[4];
	OmAct		saved;
	volatile bool changed = false;
	volatile AutomationOutcome automation = AUTOMATION_NOTHING;

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
			"   AND delivery_status IN " OM_PRE_SHIPMENT_SQL,
			4, argtypes);
	om_plan(&archive_plan,
			"UPDATE order_mgmt.orders SET archived_at = $3"
			" WHERE shop_id = $1 AND order_id = $2 AND status IN ('completed', 'cancelled')"
			"   AND archived_at IS NULL",
			4, argtypes);
	om_plan(&hold_plan,
			"UPDATE order_mgmt.orders SET hold_until = NULL"
			" WHERE shop_id = $1 AND order_id = $2 AND hold_until <= $3",
			4, argtypes);
	om_plan(&delete_plan,
			"DELETE FROM order_mgmt.due_action"
			" WHERE shop_id = $1 AND order_id = $2 AND action = $3::order_mgmt.due_kind",
			3, delete_types);

	(void) om_act_system(&saved, strcmp(action, "payment_timeout") == 0 ? "payment_timeout" : NULL);
	PG_TRY();
	{
		if (strcmp(action, "payment_timeout") == 0)
			om_exec(timeout_plan, values, NULL, false, 0);
		else if (strcmp(action, "auto_cancel") == 0)
			om_exec(cancel_plan, values, NULL, false, 0);
		else if (strcmp(action, "auto_archive") == 0)
			om_exec(archive_plan, values, NULL, false, 0);
		else if (strcmp(action, "automation_complete") == 0)
			automation = CompleteOrPostpone(shop_id, order_id, values);
		else if (strcmp(action, "hold_end") == 0)
			om_exec(hold_plan, values, NULL, false, 0);
		else
			elog(ERROR, "due action \"%s\" is not known to this version of order_mgmt", action);
		if (strcmp(action, "automation_complete") == 0)
			changed = automation == AUTOMATION_COMPLETED;
		else
			changed = SPI_processed > 0;
		if (changed)
		{
			char	   *detail = psprintf("{\"action\": \"%s\"}", action);

			om_event_write(shop_id, order_id, "deadline", NULL, NULL, detail);
		}
		if (automation != AUTOMATION_POSTPONED)
		{
			values[2] = CStringGetTextDatum(action);
			om_exec(delete_plan, values, NULL, false, 0);
		}
	}
	PG_FINALLY();
	{
		om_act_pop(&saved);
	}
	PG_END_TRY();
	return changed;
}
