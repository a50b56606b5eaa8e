/*-------------------------------------------------------------------------
 *
 * icu.c
 *	  ICU text handling (SPEC §15): normalization of codes and e-mail
 *	  addresses, and the checks on identifiers and currency codes.
 *
 * ICU works in UTF-16; text reaches us in the database encoding.  We go
 * through UTF-8 both ways.  The NFKC_Casefold normalizer is opened once
 * per backend and reused.  ICU failures become PostgreSQL errors with the
 * ICU error name in DETAIL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include <unicode/uchar.h>
#include <unicode/ucurr.h>
#include <unicode/uloc.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include "icu.h"
#include "om_args.h"

static const UNormalizer2 *nfkc_cf = NULL;

/* An ICU call failed: say what we could not do (38000). */
void
om_check_icu(UErrorCode status, const char *what)
{
	if (U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not %s", what),
				 errdetail("ICU error: %s.", u_errorName(status))));
}

/* s in the database encoding -> UTF-8 (may return s itself). */
static char *
ToUtf8(const char *s)
{
	return pg_server_to_any(s, strlen(s), PG_UTF8);
}

static UChar *
Utf8ToUChars(const char *s, int32_t *len)
{
	UErrorCode status = U_ZERO_ERROR;
	int32_t		slen = (int32_t) strlen(s);
	UChar	   *buf = palloc(sizeof(UChar) * (slen + 1));

	u_strFromUTF8(buf, slen + 1, len, s, slen, &status);
	om_check_icu(status, "convert text to UTF-16");
	return buf;
}

static char *
UCharsToServer(const UChar *s, int32_t len)
{
	UErrorCode status = U_ZERO_ERROR;
	int32_t		outlen;
	char	   *out;

	u_strToUTF8(NULL, 0, &outlen, s, len, &status);
	if (status != U_BUFFER_OVERFLOW_ERROR)
		om_check_icu(status, "convert text from UTF-16");
	status = U_ZERO_ERROR;
	out = palloc(outlen + 1);
	u_strToUTF8(out, outlen + 1, NULL, s, len, &status);
	om_check_icu(status, "convert text from UTF-16");
	return pg_any_to_server(out, outlen, PG_UTF8);
}

/*
 * NFKC case folding (full-width and case variants match, default-ignorable
 * characters such as U+200B vanish), optionally trimming Unicode white
 * space at both ends.  Returns a palloc'd string in the database encoding.
 */
char *
om_normalize(const char *s, bool trim)
{
	UErrorCode status = U_ZERO_ERROR;
	UChar	   *src;
	UChar	   *dst;
	int32_t		srclen;
	int32_t		dstlen;
	int32_t		start = 0;
	int32_t		end;

	if (nfkc_cf == NULL)
	{
		nfkc_cf = unorm2_getNFKCCasefoldInstance(&status);
		om_check_icu(status, "open the NFKC_Casefold normalizer");
	}

	src = Utf8ToUChars(ToUtf8(s), &srclen);
	dstlen = unorm2_normalize(nfkc_cf, src, srclen, NULL, 0, &status);
	if (status != U_BUFFER_OVERFLOW_ERROR)
		om_check_icu(status, "normalize text");
	status = U_ZERO_ERROR;
	dst = palloc(sizeof(UChar) * (dstlen + 1));
	unorm2_normalize(nfkc_cf, src, srclen, dst, dstlen + 1, &status);
	om_check_icu(status, "normalize text");

	end = dstlen;
	if (trim)
	{
		/* NFKC_Casefold leaves no unpaired surrogates: step by UTF-16 units */
		while (start < end && u_isUWhiteSpace(dst[start]))
			start++;
		while (end > start && u_isUWhiteSpace(dst[end - 1]))
			end--;
	}
	return UCharsToServer(dst + start, end - start);
}

/*
 * Identifiers (SKUs, customer ids, promo codes) must be 1..OM_MAX_IDENT
 * characters, with no control, format, private-use or unassigned code
 * points and no white space at either end.
 */
void
om_check_identifier(const char *what, const char *value)
{
	const char *u = ToUtf8(value);
	int32_t		len = (int32_t) strlen(u);
	int32_t		i = 0;
	int			nchars = 0;
	UChar32		c = 0;
	UChar32		first = -1;

	while (i < len)
	{
		int32_t		at = i;
		int8_t		type;

		U8_NEXT(u, i, len, c);
		if (c < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s is not valid UTF-8", what)));
		if (first < 0)
			first = c;
		nchars++;
		type = u_charType(c);
		if (type == U_CONTROL_CHAR || type == U_FORMAT_CHAR ||
			type == U_SURROGATE || type == U_PRIVATE_USE_CHAR ||
			type == U_UNASSIGNED)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s \"%s\" contains an invisible or unassigned character", what, value),
					 errdetail("Code point U+%04X at byte %d is a control, format, private-use or unassigned character.",
							   (unsigned int) c, (int) at),
					 errhint("Remove the character; identifiers are compared as they are written.")));
	}

	if (nchars == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	if (nchars > OM_MAX_IDENT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", what),
				 errdetail("It has %d characters; at most %d are allowed.", nchars, OM_MAX_IDENT)));
	if (u_isUWhiteSpace(first) || u_isUWhiteSpace(c))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" begins or ends with white space", what, value),
				 errhint("Trim the value before passing it.")));
}

/* An ISO 4217 code ICU knows, in upper case. */
void
om_check_currency(const char *code)
{
	UChar		ucode[4];
	UErrorCode status = U_ZERO_ERROR;
	int			i;

	for (i = 0; i < 3; i++)
		if (code[i] < 'A' || code[i] > 'Z')
			break;
	if (i != 3 || code[3] != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid currency code \"%s\"", code),
				 errdetail("A currency is an ISO 4217 code of three upper-case letters, such as TWD, THB or EUR.")));

	u_charsToUChars(code, ucode, 4);
	if (!ucurr_isAvailable(ucode, U_DATE_MIN, U_DATE_MAX, &status) || U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown currency code \"%s\"", code),
				 errdetail("ICU knows no ISO 4217 currency %s.", code)));
}

/*
 * normalize_code(text) and normalize_email(text): both NFKC case folding
 * plus trimming (SPEC §15); the SQL functions share this entry point.
 */
PG_FUNCTION_INFO_V1(om_normalize_text);
Datum
om_normalize_text(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(om_normalize(text_to_cstring(PG_GETARG_TEXT_PP(0)), true)));
}

/*
 * A locale is a BCP 47 language tag (zh-TW, th-TH, fi-FI, zh-Hant-TW) or
 * the same with underscores (zh_HK), as ICU parses it.
 */
void
om_check_locale(const char *locale)
{
	char		tag[ULOC_FULLNAME_CAPACITY];
	char		icu[ULOC_FULLNAME_CAPACITY];
	UErrorCode	status = U_ZERO_ERROR;
	int32_t		parsed = 0;
	size_t		len = strlen(locale);
	size_t		i;

	if (len == 0 || len >= sizeof(tag))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid locale \"%s\"", locale),
				 errdetail("A locale is a language tag such as zh-TW, th-TH or fi-FI.")));
	for (i = 0; i < len; i++)
	{
		char		ch = locale[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid locale \"%s\"", locale),
					 errdetail("A locale is a language tag such as zh-TW, th-TH or fi-FI.")));
		tag[i] = (ch == '_') ? '-' : ch;
	}
	tag[len] = '\0';

	uloc_forLanguageTag(tag, icu, sizeof(icu), &parsed, &status);
	if (U_FAILURE(status) || parsed != (int32_t) len || icu[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid locale \"%s\"", locale),
				 errdetail("ICU does not parse it as a language tag%s%s.",
						   U_FAILURE(status) ? ": " : "",
						   U_FAILURE(status) ? u_errorName(status) : "")));
}
