/*-------------------------------------------------------------------------
 *
 * labels.c
 *	  Labels and money for people (SPEC §15): label(), format_money() and
 *	  minor_units().
 *
 * label(value, locale) picks the label of a status in the best matching
 * locale: the locale is canonicalized and its likely subtags added by ICU,
 * so zh-TW, zh_HK and zh-Hant-TW mean zh-Hant, zh-CN and zh-SG zh-Hans,
 * th-TH th, fi-FI fi; anything else falls back to en.  Rows of
 * order_mgmt.status_label with builtin = false override the built-in ones,
 * and a shop may add labels for any other locale (matched exactly, or by
 * language-script, or by language).
 *
 * format_money(amount, currency, locale) formats with ICU's currency
 * format for the locale.  Number formats are opened once per backend and
 * locale/currency pair and kept in a small cache.  minor_units(currency)
 * is the number of fraction digits money in it is rounded to (money.c),
 * so SQL (verify()'s order totals) can round as checkout does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/syscache.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include <unicode/uloc.h>
#include <unicode/unum.h>
#include <unicode/ustring.h>

#include "icu.h"
#include "money.h"
#include "spi_util.h"

/*
 * The candidates for a locale, best first: the tag as given (BCP 47, with
 * '-'), language-Script after likely subtags, language; then en.
 */
static void
LocaleCandidates(const char *locale, char *exact, char *script_tag, char *lang_tag, size_t size)
{
	char		tag[ULOC_FULLNAME_CAPACITY];
	char		icu[ULOC_FULLNAME_CAPACITY];
	char		likely[ULOC_FULLNAME_CAPACITY];
	char		lang[ULOC_LANG_CAPACITY];
	char		script[ULOC_SCRIPT_CAPACITY];
	UErrorCode	status = U_ZERO_ERROR;
	int32_t		parsed;
	size_t		i;

	om_check_locale(locale);
	for (i = 0; locale[i] && i < sizeof(tag) - 1; i++)
		tag[i] = locale[i] == '_' ? '-' : locale[i];
	tag[i] = '\0';
	strlcpy(exact, tag, size);

	uloc_forLanguageTag(tag, icu, sizeof(icu), &parsed, &status);
	om_check_icu(status, "parse the locale");
	uloc_addLikelySubtags(icu, likely, sizeof(likely), &status);
	om_check_icu(status, "add likely subtags to the locale");
	uloc_getLanguage(likely, lang, sizeof(lang), &status);
	om_check_icu(status, "get the language of the locale");
	uloc_getScript(likely, script, sizeof(script), &status);
	om_check_icu(status, "get the script of the locale");

	strlcpy(lang_tag, lang, size);
	if (script[0])
		snprintf(script_tag, size, "%s-%s", lang, script);
	else
		strlcpy(script_tag, lang, size);
}

/* The name of a type, without its schema. */
static char *
EnumTypeName(Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	char	   *name;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", typid);
	name = pstrdup(NameStr(((Form_pg_type) GETSTRUCT(tup))->typname));
	ReleaseSysCache(tup);
	return name;
}

/*
 * label(value anyenum, locale text) -> text
 */
PG_FUNCTION_INFO_V1(om_label);
Datum
om_label(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Oid			enumtype;
	char	   *value;
	char		exact[ULOC_FULLNAME_CAPACITY] = "en";
	char		script_tag[ULOC_FULLNAME_CAPACITY] = "en";
	char		lang_tag[ULOC_FULLNAME_CAPACITY] = "en";
	Datum		values[5];
	text	   *result = NULL;
	bool		isnull;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	enumtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	value = DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(0)));
	if (!PG_ARGISNULL(1))
		LocaleCandidates(text_to_cstring(PG_GETARG_TEXT_PP(1)), exact, script_tag, lang_tag,
						 sizeof(exact));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&plan,
			"SELECT label FROM order_mgmt.status_label"
			" WHERE enum_type = $1 AND value = $2 AND locale IN ($3, $4, $5, 'en')"
			" ORDER BY CASE locale WHEN $3 THEN 0 WHEN $4 THEN 1 WHEN $5 THEN 2 ELSE 3 END, builtin"
			" LIMIT 1",
			5, argtypes);
	values[0] = CStringGetTextDatum(EnumTypeName(enumtype));
	values[1] = CStringGetTextDatum(value);
	values[2] = CStringGetTextDatum(exact);
	values[3] = CStringGetTextDatum(script_tag);
	values[4] = CStringGetTextDatum(lang_tag);
	om_exec(plan, values, NULL, true, 1);
	if (SPI_processed == 1)
		result = om_spi_text(TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
															   SPI_tuptable->tupdesc, 1, &isnull)));
	SPI_finish();
	/* no label at all: the value itself, so a UI always has something to show */
	PG_RETURN_TEXT_P(result ? result : cstring_to_text(value));
}

/* A cache of ICU currency formats, by "locale currency". */
typedef struct FormatEntry
{
	char		key[ULOC_FULLNAME_CAPACITY + 8];
	UNumberFormat *fmt;
} FormatEntry;

#define FORMAT_CACHE_SIZE 16
static FormatEntry format_cache[FORMAT_CACHE_SIZE];
static int	format_cache_next = 0;

static UNumberFormat *
CurrencyFormat(const char *locale, const char *currency)
{
	char		key[ULOC_FULLNAME_CAPACITY + 8];
	char		tag[ULOC_FULLNAME_CAPACITY];
	char		icu[ULOC_FULLNAME_CAPACITY];
	UChar		ucode[4];
	UErrorCode	status = U_ZERO_ERROR;
	int32_t		parsed;
	UNumberFormat *fmt;
	FormatEntry *slot;
	size_t		i;
	int			e;

	snprintf(key, sizeof(key), "%s %s", locale, currency);
	for (e = 0; e < FORMAT_CACHE_SIZE; e++)
		if (format_cache[e].fmt && strcmp(format_cache[e].key, key) == 0)
			return format_cache[e].fmt;

	for (i = 0; locale[i] && i < sizeof(tag) - 1; i++)
		tag[i] = locale[i] == '_' ? '-' : locale[i];
	tag[i] = '\0';
	uloc_forLanguageTag(tag, icu, sizeof(icu), &parsed, &status);
	om_check_icu(status, "parse the locale");
	fmt = unum_open(UNUM_CURRENCY, NULL, 0, icu, NULL, &status);
	om_check_icu(status, "open a currency format");
	u_charsToUChars(currency, ucode, 4);
	unum_setTextAttribute(fmt, UNUM_CURRENCY_CODE, ucode, 3, &status);
	if (U_FAILURE(status))
	{
		unum_close(fmt);
		om_check_icu(status, "set the currency of a format");
	}

	/* replace the oldest entry */
	slot = &format_cache[format_cache_next];
	format_cache_next = (format_cache_next + 1) % FORMAT_CACHE_SIZE;
	if (slot->fmt)
		unum_close(slot->fmt);
	strlcpy(slot->key, key, sizeof(slot->key));
	slot->fmt = fmt;
	return fmt;
}

/*
 * format_money(amount numeric, currency text, locale text) -> text
 */
PG_FUNCTION_INFO_V1(om_format_money);
Datum
om_format_money(PG_FUNCTION_ARGS)
{
	Numeric		amount;
	char	   *currency;
	char	   *locale;
	char	   *digits;
	UNumberFormat *fmt;
	UChar		local[128];
	UChar	   *buf = local;
	int32_t		len;
	UErrorCode	status = U_ZERO_ERROR;
	char	   *out;
	int32_t		outlen;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	amount = PG_GETARG_NUMERIC(0);
	if (!OM_NUMERIC_IS_FINITE(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot format %s as money", om_num_text(amount))));
	currency = text_to_cstring(PG_GETARG_TEXT_PP(1));
	om_check_currency(currency);
	locale = text_to_cstring(PG_GETARG_TEXT_PP(2));
	om_check_locale(locale);

	fmt = CurrencyFormat(locale, currency);
	digits = om_num_text(om_num_round(amount, om_currency_digits(currency)));
	len = unum_formatDecimal(fmt, digits, (int32_t) strlen(digits), buf, lengthof(local), NULL, &status);
	if (status == U_BUFFER_OVERFLOW_ERROR)
	{
		/* a long amount (numeric has up to 131072 digits): len is its size */
		status = U_ZERO_ERROR;
		buf = palloc((len + 1) * sizeof(UChar));
		len = unum_formatDecimal(fmt, digits, (int32_t) strlen(digits), buf, len + 1, NULL, &status);
	}
	om_check_icu(status, "format money");

	status = U_ZERO_ERROR;
	u_strToUTF8(NULL, 0, &outlen, buf, len, &status);
	if (status != U_BUFFER_OVERFLOW_ERROR)
		om_check_icu(status, "convert money to UTF-8");
	status = U_ZERO_ERROR;
	out = palloc(outlen + 1);
	u_strToUTF8(out, outlen + 1, NULL, buf, len, &status);
	om_check_icu(status, "convert money to UTF-8");
	PG_RETURN_TEXT_P(cstring_to_text(pg_any_to_server(out, outlen, PG_UTF8)));
}

/*
 * minor_units(currency text) -> integer: the currency's default fraction
 * digits as ICU reports them (TWD 2, JPY 0, KWD 3), the digits every
 * amount in it is rounded to (SPEC §2).  22023 for a code ICU does not know.
 */
PG_FUNCTION_INFO_V1(om_minor_units);
Datum
om_minor_units(PG_FUNCTION_ARGS)
{
	char	   *currency = text_to_cstring(PG_GETARG_TEXT_PP(0));

	om_check_currency(currency);
	PG_RETURN_INT32(om_currency_digits(currency));
}
