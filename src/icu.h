/*-------------------------------------------------------------------------
 *
 * icu.h
 *	  ICU text handling: normalization, identifier, currency and locale
 *	  checks (icu.c, SPEC §15); labels and money formatting are
 *	  labels.c, SQL-callable only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_ICU_H
#define OM_ICU_H

#include <unicode/utypes.h>

extern void om_check_icu(UErrorCode status, const char *what);
extern char *om_normalize(const char *s, bool trim);
extern void om_check_identifier(const char *what, const char *value);
extern void om_check_currency(const char *code);
extern void om_check_locale(const char *locale);

#endif							/* OM_ICU_H */
