/*-------------------------------------------------------------------------
 *
 * sweep.h
 *	  The sweeper's parts: a run_due() batch's counters and deferred
 *	  events (sweep_batch.c), the set-based effects of its set UPDATEs
 *	  (sweep_set.c), and the background worker (sweeper.c).  run_due()
 *	  itself is sweep.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_SWEEP_H
#define OM_SWEEP_H

#include "context.h"

/* sweep_batch.c */
typedef struct OmBatchMark
{
	int			deltas;			/* counter changes recorded */
	int			events;			/* events deferred */
} OmBatchMark;

extern OmBatch *om_batch_begin(MemoryContext cxt);
extern OmEventQueue *om_batch_events(OmBatch *b);
extern void om_batch_end(OmBatch *b);
extern OmBatchMark om_batch_mark(const OmBatch *b);
extern void om_batch_rewind(OmBatch *b, OmBatchMark mark);
extern void om_batch_spill(OmBatch *b);
extern void om_batch_add_stock(OmBatch *b, int64 shop_id, const char *sku, int32 bucket, int32 qty);
extern void om_batch_add_promo(OmBatch *b, int64 shop_id, const char *code_key, const char *who);
extern void om_batch_flush(OmBatch *b);

/* sweep_set.c */

/*
 * Every set statement takes its orders as $1 shop ids, $2 order ids and
 * $3 reasons (om_set_params); OM_SET_ROWS reads them as rows u.
 */
#define OM_SET_ROWS \
	"ROWS FROM (pg_catalog.unnest($1::int8[]), pg_catalog.unnest($2::int8[]), pg_catalog.unnest($3::text[]))" \
	" AS u(shop_id, order_id, reason)"
#define OM_SET_KEYS "(SELECT u.shop_id, u.order_id FROM " OM_SET_ROWS ")"

typedef enum OmSetEffect
{
	OM_SET_CANCELLED,			/* release stock, drop deadlines, schedule archiving */
	OM_SET_FAILED,				/* schedule the auto-cancel */
	OM_SET_TRACKED,				/* set or drop the automation deadline */
	OM_SET_NUM_EFFECTS
} OmSetEffect;

extern OmSweepSet *om_sweep_set_begin(MemoryContext cxt);
extern void om_sweep_set_note(OmSweepSet *set, OmSetEffect effect, int64 shop_id,
							  int64 order_id, const char *reason);
extern void om_sweep_set_apply(OmSweepSet *set);
extern void om_set_params(Datum *values, Datum *shops, Datum *orders, Datum *reasons, int n);

/* sweeper.c */
extern void om_sweeper_define_gucs(void);
extern void om_sweeper_register(void);

#endif							/* OM_SWEEP_H */
