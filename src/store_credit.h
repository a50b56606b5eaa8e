/*-------------------------------------------------------------------------
 *
 * store_credit.h
 *	  Store credit: a balance per customer and its ledger (store_credit.c,
 *	  SPEC §9, issue 17 item 11).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_STORE_CREDIT_H
#define OM_STORE_CREDIT_H

#include "utils/numeric.h"

#include "compat.h"

extern Numeric om_credit_move(int64 shop_id, const char *customer_id, int64 order_id,
							  const char *kind, Numeric amount, const char *reason);
pg_noreturn extern void om_credit_insufficient(int64 shop_id, const char *customer_id,
											   Numeric wanted);
extern void om_credit_lock_nowait(int64 shop_id, const char *customer_id);
extern void om_credit_order_cancelled(int64 shop_id, int64 order_id,
									  const char *customer_id);
extern void om_credit_order_reactivated(int64 shop_id, int64 order_id,
										const char *customer_id, Numeric credit);
extern Numeric om_credit_for_return(int64 shop_id, int64 order_id, int64 return_id);
extern void om_credit_order_returned(int64 shop_id, int64 order_id);

#endif							/* OM_STORE_CREDIT_H */
