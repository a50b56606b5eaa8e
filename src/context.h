/*-------------------------------------------------------------------------
 *
 * context.h
 *	  The acting context: in which mode the lower layers run.
 *
 * One struct says who acts and how: the caller or the system (the
 * sweeper), whether rows are locked NOWAIT, whether order_mgmt itself is
 * writing the order row, why a payment fails, and the run_due() batch and
 * set whose work is collected rather than done at once.  Readers branch on
 * a named field of om_act(); writers change it only between om_act_push()
 * and om_act_pop(), in PG_FINALLY, so an error restores it, and an aborted
 * transaction resets it whatever happened (context.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_CONTEXT_H
#define OM_CONTEXT_H

typedef struct OmEventQueue OmEventQueue;	/* events.c */
typedef struct OmBatch OmBatch;		/* sweep_batch.c */
typedef struct OmSweepSet OmSweepSet;	/* sweep_set.c */

typedef enum OmActor
{
	OM_ACTOR_CALLER,			/* the calling role (SPEC §2, order_event.actor) */
	OM_ACTOR_SYSTEM				/* the sweeper: events say "system" */
} OmActor;

typedef struct OmAct
{
	OmActor		actor;			/* whom the events name */
	bool		nowait;			/* lock rows NOWAIT instead of waiting (run_due) */
	int			api_depth;		/* > 0 while order_mgmt itself writes an order */
	const char *failure_reason; /* why the next payment failure happens;
								 * NULL: "payment_failed" */
	OmBatch    *batch;			/* a run_due() batch summing counter changes */
	OmEventQueue *deferred;		/* events kept until the batch writes them */
	OmSweepSet *set;			/* a set UPDATE noting its orders' effects */
	int			set_depth;		/* the api_depth of that UPDATE */
} OmAct;

extern void om_act_init(void);
extern const OmAct *om_act(void);
extern OmAct *om_act_push(OmAct *saved);
extern void om_act_pop(const OmAct *saved);
extern bool om_act_in_set(void);
extern OmAct *om_act_system(OmAct *saved, const char *failure_reason);

#endif							/* OM_CONTEXT_H */
