/*-------------------------------------------------------------------------
 *
 * order_mgmt.c
 *	  Module entry point: PG_MODULE_MAGIC, _PG_init and the GUCs.
 *
 * order_mgmt keeps an online shop's orders honest inside the database.
 * Each file owns one concern and has a header of its own; calls only go
 * down these layers (test/check_layers.sh checks it in CI):
 *
 *	API			checkout.c, order_api.c, payment.c, fulfilment.c,
 *				customer_cancel.c, returns.c, inventory.c, shop.c
 *				(set-up), labels.c, verify.c, sweep.c (run_due),
 *				outbox.c (events_since, consumers, NOTIFY channel)
 *	sweeper		sweeper.c (background worker), sweep_set.c (set-based
 *				effects of a batch), sweep_batch.c (its counters and
 *				deferred events)
 *	triggers	order_guard.c (BEFORE: judges every write),
 *				order_effects.c (AFTER: the side effects)
 *	domain		reservation.c (stock holds), promo.c, automation.c
 *				(rules and reward points)
 *	orders		order_lock.c (take an order, apply its overdue
 *				deadlines), due_action.c (one due action), order_row.c
 *				(trigger row accessors), lines.c (the lines JSON)
 *	records		events.c (appending events, NOTIFY wake-ups)
 *	utilities	context.c (the acting context), machines.c (the status
 *				machines), spi_plans.c (kept plans), clock.c, money.c,
 *				icu.c (ICU), sort_merge.c, rls.c (row-level security
 *				by shop)
 *
 * docs/architecture.md says more.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "check_cache.h"
#include "clock.h"
#include "compat.h"
#include "context.h"
#include "events.h"
#include "rls.h"
#include "stock.h"
#include "sweep.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	om_act_init();
	om_check_cache_init();
	om_clock_define_guc();
	om_events_define_gucs();
	om_rls_define_guc();
	om_hot_define_gucs();
	/* the sweeper's settings exist only where the sweeper can run */
	if (process_shared_preload_libraries_in_progress)
	{
		om_sweeper_define_gucs();
		om_sweeper_register();
	}
	MarkGUCPrefixReserved("order_mgmt");
}
