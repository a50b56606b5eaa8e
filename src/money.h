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

/*
 * Every amount order_mgmt takes or computes (a price, a fee, a total, a
 * payment or refund) is below 10^15 in the currency's units, and a
 * shop's reward_rate at most 1000 points per unit, so reward points
 * always fit in a bigint (SPEC §2).
 */
#define OM_MAX_AMOUNT_TEXT	"1000000000000000"
#define OM_MAX_REWARD_RATE	1000
extern void om_check_amount_range(const char *what, Numeric a);

#endif							/* OM_MONEY_H */
