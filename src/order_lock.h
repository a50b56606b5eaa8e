/*-------------------------------------------------------------------------
 *
 * order_lock.h
 *	  Taking an order and moving its status (order_lock.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_ORDER_LOCK_H
#define OM_ORDER_LOCK_H

#include "utils/numeric.h"

#include "compat.h"

typedef struct OmOrder
{
	int64		shop_id;
	int64		order_id;
	int			status;			/* OmOrderStatus */
	int			payment;		/* OmPaymentStatus */
	int			delivery;		/* OmDeliveryStatus */
	bool		standard;		/* logistics 'standard' (else integrated, cod) */
	bool		archived;
	Numeric		total;
	Numeric		due;			/* total - credit_applied: what is paid in money */
	Numeric		paid_amount;
	Numeric		refunded_amount;
} OmOrder;

pg_noreturn extern void om_order_not_found(int64 shop_id, int64 order_id);
extern void om_lock_order(int64 shop_id, int64 order_id, OmOrder *order);
extern void om_enter_order(int64 shop_id, int64 order_id, OmOrder *order);
extern void om_move_status(int64 shop_id, int64 order_id, const char *status,
						   const char *reason, const char *note, const char *source);

#endif							/* OM_ORDER_LOCK_H */
