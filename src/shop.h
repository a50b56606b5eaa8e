/*-------------------------------------------------------------------------
 *
 * shop.h
 *	  Shops and customers (shop.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_SHOP_H
#define OM_SHOP_H

#include "compat.h"

pg_noreturn extern void om_shop_not_found(int64 shop_id);
extern void om_require_shop(int64 shop_id);
extern void om_require_customer(int64 shop_id, const char *customer_id);
extern void om_check_email(const char *email);
extern char *om_email_arg(text *arg);

#endif							/* OM_SHOP_H */
