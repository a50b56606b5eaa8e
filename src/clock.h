/*-------------------------------------------------------------------------
 *
 * clock.h
 *	  order_mgmt.now() and the test clock (clock.c, SPEC §13).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_CLOCK_H
#define OM_CLOCK_H

#include "utils/timestamp.h"

extern void om_clock_define_guc(void);
extern TimestampTz om_now(void);

#endif							/* OM_CLOCK_H */
