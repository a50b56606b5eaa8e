/*-------------------------------------------------------------------------
 *
 * due_action.h
 *	  One order's due action (due_action.c, SPEC §13).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_DUE_ACTION_H
#define OM_DUE_ACTION_H

extern bool om_apply_due_action(int64 shop_id, int64 order_id, const char *action,
								const char *reason);

#endif							/* OM_DUE_ACTION_H */
