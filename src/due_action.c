/*-------------------------------------------------------------------------
 *
 * due_action.c
 *	  One order's due action (SPEC §6, §9, §13): what a due_action row asks
 *	  for, done on an order the caller has locked.
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
	OmAct		saved;
	volatile bool changed = false;

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
		om_act_pop(&saved);
	}
	PG_END_TRY();
	return changed;
}
