/*-------------------------------------------------------------------------
 *
 * om_errcodes.h
 *	  The SQLSTATEs of SPEC §16, defined once.
 *
 * Class OM is ours: PostgreSQL leaves classes starting with a letter after
 * H to implementations.  Callers branch on these codes, so they never change
 * meaning.  Malformed input uses PostgreSQL's own codes (22023, 22004 ...).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_ERRCODES_H
#define OM_ERRCODES_H

#include "utils/elog.h"

#define ERRCODE_OM_INSUFFICIENT_STOCK		MAKE_SQLSTATE('O','M','0','0','1')
#define ERRCODE_OM_PROMO_CODE_INVALID		MAKE_SQLSTATE('O','M','0','0','2')
#define ERRCODE_OM_PROMO_CODE_EXHAUSTED		MAKE_SQLSTATE('O','M','0','0','3')
#define ERRCODE_OM_PROMO_CUSTOMER_LIMIT		MAKE_SQLSTATE('O','M','0','0','4')
#define ERRCODE_OM_INVALID_TRANSITION		MAKE_SQLSTATE('O','M','0','0','5')
#define ERRCODE_OM_CUSTOMER_CANCEL_NOT_ALLOWED MAKE_SQLSTATE('O','M','0','0','6')
#define ERRCODE_OM_ORDER_NOT_FOUND			MAKE_SQLSTATE('O','M','0','0','7')
#define ERRCODE_OM_ORDER_ARCHIVED			MAKE_SQLSTATE('O','M','0','0','8')
#define ERRCODE_OM_ORDER_DELETE_FORBIDDEN	MAKE_SQLSTATE('O','M','0','0','9')
#define ERRCODE_OM_PAYMENT_MISMATCH			MAKE_SQLSTATE('O','M','0','1','0')
#define ERRCODE_OM_ORDER_ON_HOLD			MAKE_SQLSTATE('O','M','0','1','1')
#define ERRCODE_OM_RETURN_NOT_ALLOWED		MAKE_SQLSTATE('O','M','0','1','2')
#define ERRCODE_OM_ORDER_NOT_MODIFIABLE		MAKE_SQLSTATE('O','M','0','1','3')
#define ERRCODE_OM_SHOP_NOT_FOUND			MAKE_SQLSTATE('O','M','0','1','4')
#define ERRCODE_OM_INSUFFICIENT_STORE_CREDIT MAKE_SQLSTATE('O','M','0','1','5')

#endif							/* OM_ERRCODES_H */
