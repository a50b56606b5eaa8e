/*-------------------------------------------------------------------------
 *
 * citus_lock_step.h
 *	  The lock step of a multi-row UPDATE of orders on a Citus shard
 *	  (citus_lock_step.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_CITUS_LOCK_STEP_H
#define OM_CITUS_LOCK_STEP_H

#include "commands/trigger.h"

#include "order_row.h"

extern int64 om_citus_lock_step(TriggerData *trigdata, const OrderCols *cols);

#endif							/* OM_CITUS_LOCK_STEP_H */
