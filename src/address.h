/*-------------------------------------------------------------------------
 *
 * address.h
 *	  Shipping and billing addresses of orders (address.c, issue 18).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_ADDRESS_H
#define OM_ADDRESS_H

#include "utils/jsonb.h"
#include "utils/timestamp.h"

extern void om_address_check(const char *argname, Jsonb *address);
extern void om_address_insert_first(int64 shop_id, int64 order_id, Jsonb *shipping,
									Jsonb *billing, TimestampTz now);

#endif							/* OM_ADDRESS_H */
