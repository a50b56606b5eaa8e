/*-------------------------------------------------------------------------
 *
 * due_action.h
 *	  One order's due action (due_action.c, SPEC §13).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_DUE_ACTION_H
#define OM_DUE_ACTION_H

#include "spi_util.h"

/*
 * Payment deadlines (issue 21).  From 0.2.0 an order's payment timeout is
 * no due_action row: it is due when orders.payment_due_at passes while
 * the order still awaits payment (OM_AWAITING_PAYMENT), and the partial
 * index orders_payment_due, whose predicate that is, finds such orders for
 * run_due().  Only a timeout that failed in run_due() becomes a due_action
 * row, which backs off as any failing row does and, while it exists,
 * stands for the order's timeout (OM_NO_TIMEOUT_ROW).  A 0.1.0 schema not
 * yet updated has no such index and keeps a due_action row per deadline.
 */
#define OM_PAYMENT_DUE_INDEX "orders_payment_due"

/* The index's predicate, for orders o (a query must repeat it to use the index). */
#define OM_AWAITING_PAYMENT(o) \
	" " o ".payment_due_at IS NOT NULL AND " o ".status IN ('pending', 'confirmed')" \
	" AND " o ".payment_status IN ('unpaid', 'pending')"

/* No failing timeout row stands for the timeout of orders o. */
#define OM_NO_TIMEOUT_ROW(o) \
	" NOT EXISTS (SELECT FROM order_mgmt.due_action f WHERE f.shop_id = " o ".shop_id" \
	"   AND f.order_id = " o ".order_id AND f.action = 'payment_timeout')"

/* Whether payment timeouts live on orders (0.2.0) rather than in due_action rows. */
static inline bool
om_timeouts_on_orders(void)
{
	return om_has_relation(OM_PAYMENT_DUE_INDEX);
}

extern bool om_apply_due_action(int64 shop_id, int64 order_id, const char *action,
								const char *reason);

#endif							/* OM_DUE_ACTION_H */
