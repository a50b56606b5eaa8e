/*-------------------------------------------------------------------------
 *
 * om_args.h
 *	  Bounds on input and the argument check shared by the SQL-callable
 *	  functions (SPEC §16: 22023 for malformed input).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_ARGS_H
#define OM_ARGS_H

#include "fmgr.h"

/* Upper bound on a line's or an adjustment's quantity (SPEC §16). */
#define OM_MAX_QTY		100000
/* Upper bound on stock buckets per SKU (SPEC §4.4). */
#define OM_MAX_BUCKETS	64
/* Longest identifier we accept (SKU, customer id, promo code ...), in characters. */
#define OM_MAX_IDENT	200

#define OM_ARG_NOT_NULL(n, name) \
	do { \
		if (PG_ARGISNULL(n)) \
			ereport(ERROR, \
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
					 errmsg("%s must not be null", (name)))); \
	} while (0)

#endif							/* OM_ARGS_H */
