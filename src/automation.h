/*-------------------------------------------------------------------------
 *
 * automation.h
 *	  Automation rules and reward points (automation.c, SPEC §9).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_AUTOMATION_H
#define OM_AUTOMATION_H

extern void om_automation_track(int64 shop_id, int64 order_id);
extern void om_automation_track_set(Datum shops, Datum orders);
extern void om_rewards_earn(int64 shop_id, int64 order_id);
extern void om_rewards_reverse(int64 shop_id, int64 order_id);

#endif							/* OM_AUTOMATION_H */
