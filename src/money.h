/*-------------------------------------------------------------------------
 *
 * money.h
 *	  Numeric money arithmetic, rounded to currency minor units (money.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_MONEY_H
#define OM_MONEY_H

#include "utils/numeric.h"

#include "compat.h"

extern Numeric om_num_int(int64 v);
extern Numeric om_num_add(Numeric a, Numeric b);
extern Numeric om_num_sub(Numeric a, Numeric b);
extern Numeric om_num_mul(Numeric a, Numeric b);
extern Numeric om_num_div(Numeric a, Numeric b);
extern int	om_num_cmp(Numeric a, Numeric b);
extern Numeric om_num_min(Numeric a, Numeric b);
extern Numeric om_num_round(Numeric a, int digits);
extern char *om_num_text(Numeric a);
extern bool om_num_is_amount(Numeric a);
extern int	om_currency_digits(const char *currency);

#endif							/* OM_MONEY_H */
