/*-------------------------------------------------------------------------
 *
 * money.c
 *	  Money arithmetic on numeric, rounded to the currency's minor units as
 *	  ICU reports them (SPEC §2: JPY 0, TWD 2, KWD 3).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include <unicode/ucurr.h>
#include <unicode/ustring.h>

#include "money.h"

Numeric
om_num_int(int64 v)
{
	return DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(v)));
}

Numeric
om_num_add(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
om_num_sub(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_sub, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
om_num_mul(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
om_num_div(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_div, NumericGetDatum(a), NumericGetDatum(b)));
}

int
om_num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
om_num_min(Numeric a, Numeric b)
{
	return om_num_cmp(a, b) <= 0 ? a : b;
}

Numeric
om_num_round(Numeric a, int digits)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(a), Int32GetDatum(digits)));
}

char *
om_num_text(Numeric a)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(a)));
}

/* Is a a finite number >= 0? */
bool
om_num_is_amount(Numeric a)
{
	return OM_NUMERIC_IS_FINITE(a) && om_num_cmp(a, om_num_int(0)) >= 0;
}

/* The currency's default fraction digits, from ICU. */
int
om_currency_digits(const char *currency)
{
	UChar		code[4];
	UErrorCode	status = U_ZERO_ERROR;
	int32_t		digits;

	if (strlen(currency) != 3)
		return 2;
	u_charsToUChars(currency, code, 4);
	digits = ucurr_getDefaultFractionDigits(code, &status);
	if (U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not get the minor units of currency \"%s\"", currency),
				 errdetail("ICU error: %s.", u_errorName(status))));
	return digits;
}

/*
 * Raise 22003 if amount a, named what, is not below 10^15 (OM_MAX_AMOUNT_TEXT).
 * Callers check finiteness and sign themselves, with their own messages.
 */
void
om_check_amount_range(const char *what, Numeric a)
{
	static Numeric max = NULL;

	if (max == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		max = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(OM_MAX_AMOUNT_TEXT),
												  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		MemoryContextSwitchTo(old);
	}
	if (OM_NUMERIC_IS_FINITE(a) && om_num_cmp(a, max) >= 0)
	{
		char	   *got = om_num_text(a);
		size_t		len = strlen(got);

		/* a number of 130,000 digits is said by its size, not printed */
		if (len > 40)
			got = psprintf("a number of %zu digits", len);
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", what),
				 errdetail("Got %s; amounts must be less than %s.", got, OM_MAX_AMOUNT_TEXT)));
	}
}
