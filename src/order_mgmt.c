/*-------------------------------------------------------------------------
 *
 * order_mgmt.c
 *	  Module entry point: PG_MODULE_MAGIC, _PG_init and the GUCs.
 *
 * order_mgmt keeps an online shop's orders honest inside the database.
 * The concerns live in their own files:
 *
 *	machines.c		the three status machines (SPEC §3) and their view
 *	order_guard.c	the BEFORE trigger that enforces them on every path
 *	events.c		the append-only event log and who acted (SPEC §12)
 *	clock.c			order_mgmt.now() and the test clock (SPEC §13)
 *	shop.c			shops and customers (set-up functions)
 *	inventory.c		SKUs and physical stock, split over buckets (SPEC §4)
 *	reservation.c	holding, releasing and committing stock (SPEC §4)
 *	promo.c			promo codes: create, claim, release (SPEC §5)
 *	checkout.c		checkout() (SPEC §4, §5, §6)
 *	order_effects.c	side effects of order moves, by trigger (principle 1)
 *	order_api.c		cancel, confirm, reactivate (SPEC §7)
 *	payment.c		payments and refunds (SPEC §6)
 *	deadlines.c		due actions and run_due() (SPEC §13)
 *	sweeper.c		the background worker calling run_due()
 *	money.c			numeric money, rounded to ICU's currency digits
 *	text_icu.c		ICU normalization and identifier checks (SPEC §15)
 *	verify.c		verify(): the invariant checks (SPEC §18)
 *	spi_plans.c		prepared, kept SPI plans
 *
 *-------------------------------------------------------------------------
 */
#include "order_mgmt.h"

#include "miscadmin.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	om_clock_define_guc();
	om_events_define_gucs();
	/* the sweeper's settings exist only where the sweeper can run */
	if (process_shared_preload_libraries_in_progress)
	{
		om_sweeper_define_gucs();
		om_sweeper_register();
	}
	MarkGUCPrefixReserved("order_mgmt");
}
