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
#include "utils/jsonb.h"

typedef struct OmHold
{
	char	   *sku;
	int32		qty;
	int32		buckets;		/* stock buckets of the SKU */
	bool		queue;			/* admission queue */
	bool		auto_spread;	/* its buckets are automatic: count contention (hot_sku.c) */
} OmHold;

/*
 * A SKU's bucket count K over sku k and shop s: the SKU's stock_buckets,
 * else the shop's, or the automatic one balance_buckets() gave it
 * (issue 21) when that is more; and whether its buckets are automatic.
 * For a 0.2.0 schema (sku.auto_buckets, shop.auto_buckets_max).
 */
#define OM_SKU_BUCKETS_SQL \
	"coalesce(k.stock_buckets, greatest(s.stock_buckets, k.auto_buckets))"
#define OM_SKU_AUTO_SQL \
	"(k.stock_buckets IS NULL AND s.stock_buckets = 1 AND s.auto_buckets_max > 1)"

extern void om_hold_stock(int64 shop_id, int64 order_id, int64 return_id,
						  const OmHold *lines, int nlines, StringInfo holds);
extern void om_hold_stock_jsonb(int64 shop_id, int64 order_id, int64 return_id,
								const OmHold *lines, int nlines, JsonbParseState **holds);
extern int64 om_release_stock(int64 shop_id, int64 order_id);
extern void om_rehold_stock(int64 shop_id, int64 order_id, const OmHold *target, int ntarget,
							StringInfo released, StringInfo held);
extern void om_release_stock_set(Datum shops, Datum orders);
extern int64 om_commit_stock(int64 shop_id, int64 order_id);
extern int64 om_commit_package_stock(int64 shop_id, int64 order_id, int64 shipment_id);
extern int64 om_release_return_stock(int64 shop_id, int64 order_id, int64 return_id);
extern int64 om_commit_return_stock(int64 shop_id, int64 order_id, int64 return_id);

/* inventory.c */
extern int32 om_respread_stock(int64 shop_id, const char *sku, const char *note);

/* hot_sku.c */
extern bool om_hot_busy(int64 shop_id, const char *sku);
extern void om_hot_note(int64 shop_id, const char *sku, bool contended, bool spread);
extern void om_hot_define_gucs(void);

#endif							/* OM_STOCK_H */
