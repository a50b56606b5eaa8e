/*-------------------------------------------------------------------------
 *
 * order_mgmt.c
 *	  Module entry point: PG_MODULE_MAGIC, _PG_init and the GUCs.
 *
 * order_mgmt keeps an online shop's orders honest inside the database.
 * The concerns live in their own files:
 *
 *	machines.c		the three status machines (SPEC §3) and their view
 *	order_guard.c	the C triggers that enforce them on every path
 *	events.c		the append-only event log and who acted (SPEC §12)
 *	clock.c			order_mgmt.now() and the test clock (SPEC §13)
 *	shop.c			shops and customers (set-up functions)
 *	inventory.c		SKUs and stock, split over buckets (SPEC §4)
 *	text_icu.c		ICU normalization and identifier checks (SPEC §15)
 *	verify.c		verify(): the invariant checks (SPEC §18)
 *	spi_plans.c		prepared, kept SPI plans
 *
 *-------------------------------------------------------------------------
 */
#include "order_mgmt.h"

#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	om_clock_define_guc();
	MarkGUCPrefixReserved("order_mgmt");
}
