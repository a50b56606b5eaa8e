/*-------------------------------------------------------------------------
 *
 * stock.h
 *	  Holding, releasing and committing stock (reservation.c, SPEC §4).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_STOCK_H
#define OM_STOCK_H

#include "lib/stringinfo.h"

typedef struct OmHold
{
	char	   *sku;
	int32		qty;
	int32		buckets;		/* stock buckets of the SKU */
	bool		queue;			/* admission queue */
} OmHold;

extern void om_hold_stock(int64 shop_id, int64 order_id, int64 return_id,
						  const OmHold *lines, int nlines, StringInfo holds);
extern int64 om_release_stock(int64 shop_id, int64 order_id);
extern void om_rehold_stock(int64 shop_id, int64 order_id, const OmHold *target, int ntarget,
							StringInfo released, StringInfo held);
extern void om_release_stock_set(Datum shops, Datum orders);
extern int64 om_commit_stock(int64 shop_id, int64 order_id);
extern int64 om_commit_package_stock(int64 shop_id, int64 order_id, int64 shipment_id);
extern int64 om_release_return_stock(int64 shop_id, int64 order_id, int64 return_id);
extern int64 om_commit_return_stock(int64 shop_id, int64 order_id, int64 return_id);

#endif							/* OM_STOCK_H */
