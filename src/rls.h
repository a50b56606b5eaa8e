/*-------------------------------------------------------------------------
 *
 * rls.h
 *	  Row-level security by shop: the caller's shop checked (rls.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_RLS_H
#define OM_RLS_H

#include "om_args.h"

extern void om_rls_define_guc(void);
extern bool om_rls_restricts(Oid role);
extern void om_rls_check_shop(int64 shop_id);
extern bool om_rls_check_all_shops(const char *what, bool filter);
extern int	om_rls_my_shops(int64 **shops);

/*
 * The first check of an API call on a shop: argument n, shop_id, not
 * NULL (22023) and one the caller may use when row-level security is on
 * (42501).
 */
#define OM_SHOP_ARG(n) \
	do { \
		OM_ARG_NOT_NULL(n, "shop_id"); \
		om_rls_check_shop(PG_GETARG_INT64(n)); \
	} while (0)

#endif							/* OM_RLS_H */
