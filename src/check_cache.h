/*-------------------------------------------------------------------------
 *
 * check_cache.h
 *	  The CHECK constraints of order_mgmt's tables planned once per
 *	  backend, not per statement (check_cache.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_CHECK_CACHE_H
#define OM_CHECK_CACHE_H

extern void om_check_cache_init(void);

#endif							/* OM_CHECK_CACHE_H */
