/*-------------------------------------------------------------------------
 *
 * shop.c
 *	  Shops and customers: create_shop, update_shop, upsert_customer.
 *
 * Set-up functions validate every argument in C and give SPEC §16 errors
 * (22023 for bad input, OM014 for an unknown shop) before writing, so a
 * failed call changes nothing and never surfaces a bare constraint error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "clock.h"
#include "events.h"
#include "icu.h"
#include "money.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "rls.h"
#include "shop.h"
#include "spi_util.h"

void
om_shop_not_found(int64 shop_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_OM_SHOP_NOT_FOUND),
			 errmsg("shop " INT64_FORMAT " does not exist", shop_id),
			 errhint("Create it with order_mgmt.create_shop().")));
}

/* Raise OM014 unless the shop exists.  Inside an SPI connection. */
void
om_require_shop(int64 shop_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID};
	Datum		values[1];

	om_plan(&plan, "SELECT 1 FROM order_mgmt.shop WHERE shop_id = $1", 1, argtypes);
	values[0] = Int64GetDatum(shop_id);
	om_exec(plan, values, NULL, true, 1);
	if (SPI_processed == 0)
		om_shop_not_found(shop_id);
}

/* The customer must exist in the shop (22023).  Inside SPI. */
void
om_require_customer(int64 shop_id, const char *customer_id)
{
	static SPIPlanPtr plan = NULL;

	if (!om_exists(&plan, "SELECT 1 FROM order_mgmt.customer WHERE shop_id = $1 AND customer_id = $2",
				   shop_id, customer_id))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("customer \"%s\" does not exist in shop " INT64_FORMAT, customer_id, shop_id),
				 errhint("Create it with order_mgmt.upsert_customer().")));
}

static void
CheckShopId(int64 shop_id)
{
	if (shop_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shop_id must be positive"),
				 errdetail("Got " INT64_FORMAT ".", shop_id)));
}

static void
CheckNotBlank(const char *what, const char *value)
{
	const char *p;

	for (p = value; *p; p++)
		if (!isspace((unsigned char) *p))
			return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must not be empty", what)));
}

static void
CheckTimezone(const char *tz)
{
	if (tz[0] == '\0' || pg_tzset(tz) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", tz),
				 errhint("Use an IANA time zone name such as Asia/Taipei, Asia/Bangkok or Europe/Helsinki.")));
}

/* Upper-case an ASCII currency code and check ICU knows it. */
static char *
CurrencyArg(text *t)
{
	char	   *code = text_to_cstring(t);
	char	   *p;

	for (p = code; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p -= 'a' - 'A';
	om_check_currency(code);
	return code;
}

/*
 * create_shop(shop_id, name, currency, locale, timezone) -> void
 */
PG_FUNCTION_INFO_V1(om_create_shop);
Datum
om_create_shop(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	int64		shop_id;
	char	   *name;
	char	   *currency;
	char	   *locale;
	char	   *timezone;
	Datum		values[6];

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "name");
	OM_ARG_NOT_NULL(2, "currency");
	OM_ARG_NOT_NULL(3, "locale");
	OM_ARG_NOT_NULL(4, "timezone");

	shop_id = PG_GETARG_INT64(0);
	CheckShopId(shop_id);
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	CheckNotBlank("name", name);
	currency = CurrencyArg(PG_GETARG_TEXT_PP(2));
	locale = text_to_cstring(PG_GETARG_TEXT_PP(3));
	om_check_locale(locale);
	timezone = text_to_cstring(PG_GETARG_TEXT_PP(4));
	CheckTimezone(timezone);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&plan,
			"INSERT INTO order_mgmt.shop"
			" (shop_id, name, currency, locale, timezone, created_at, updated_at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $6)"
			" ON CONFLICT (shop_id) DO NOTHING",
			6, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(name);
	values[2] = CStringGetTextDatum(currency);
	values[3] = CStringGetTextDatum(locale);
	values[4] = CStringGetTextDatum(timezone);
	values[5] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, NULL, false, 0);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("shop " INT64_FORMAT " already exists", shop_id),
				 errhint("Change its settings with order_mgmt.update_shop().")));
	SPI_finish();
	PG_RETURN_VOID();
}

/* The settings update_shop accepts: the columns of SPEC §2's shop. */
typedef enum SettingCheck
{
	CHECK_NONE,
	CHECK_NOT_BLANK,
	CHECK_CURRENCY,
	CHECK_LOCALE,
	CHECK_TIMEZONE,
	CHECK_POSITIVE,				/* interval > 0 */
	CHECK_NOT_NEGATIVE,			/* interval or numeric >= 0 */
	CHECK_BUCKETS,				/* 1 .. OM_MAX_BUCKETS */
	CHECK_CHANNEL,				/* a lower-case identifier, for LISTEN */
	CHECK_TIMEOUTS,				/* {"method": interval > 0 or null, ...} */
	CHECK_REWARD_UNIT			/* points or store_credit (enum reward_unit) */
} SettingCheck;

typedef struct ShopSetting
{
	const char *name;
	Oid			type;
	bool		nullable;
	SettingCheck check;
} ShopSetting;

static const ShopSetting shop_settings[] = {
	{"name", TEXTOID, false, CHECK_NOT_BLANK},
	{"currency", TEXTOID, false, CHECK_CURRENCY},
	{"locale", TEXTOID, false, CHECK_LOCALE},
	{"timezone", TEXTOID, false, CHECK_TIMEZONE},
	{"payment_timeout", INTERVALOID, false, CHECK_POSITIVE},
	{"auto_cancel_failed", BOOLOID, false, CHECK_NONE},
	{"auto_cancel_delay", INTERVALOID, false, CHECK_NOT_NEGATIVE},
	{"allow_customer_cancel", BOOLOID, false, CHECK_NONE},
	{"auto_archive_after", INTERVALOID, true, CHECK_NOT_NEGATIVE},
	{"reward_rate", NUMERICOID, false, CHECK_NOT_NEGATIVE},
	{"high_value_threshold", NUMERICOID, true, CHECK_NOT_NEGATIVE},
	{"followup_window", INTERVALOID, false, CHECK_NOT_NEGATIVE},
	{"stock_buckets", INT4OID, false, CHECK_BUCKETS},
	{"admission_queue", BOOLOID, false, CHECK_NONE},
	{"notify_channel", TEXTOID, true, CHECK_CHANNEL},
	{"payment_timeouts", JSONBOID, false, CHECK_TIMEOUTS},
	{"cod_paid_on_collect", BOOLOID, false, CHECK_NONE},
	{"return_window", INTERVALOID, true, CHECK_NOT_NEGATIVE},
	{"reward_unit", TEXTOID, false, CHECK_REWARD_UNIT},
	{"app_sets_prices", BOOLOID, false, CHECK_NONE},
	{"auto_buckets_max", INT4OID, false, CHECK_BUCKETS},
};

static const ShopSetting *
FindSetting(const char *name)
{
	int			i;

	for (i = 0; i < lengthof(shop_settings); i++)
		if (strcmp(shop_settings[i].name, name) == 0)
			return &shop_settings[i];
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown shop setting \"%s\"", name),
			 errhint("The settings are name, currency, locale, timezone, payment_timeout, auto_cancel_failed, auto_cancel_delay, allow_customer_cancel, auto_archive_after, reward_rate, reward_unit, high_value_threshold, followup_window, stock_buckets, admission_queue, notify_channel, payment_timeouts, cod_paid_on_collect, return_window, app_sets_prices and auto_buckets_max.")));
	return NULL;				/* keep compiler quiet */
}

static void
SettingErrorContext(void *arg)
{
	errcontext("shop setting \"%s\"", (const char *) arg);
}

/* Convert a JSON scalar to the setting's type, naming the setting in errors. */
static Datum
SettingValue(const ShopSetting *setting, JsonbValue *v)
{
	ErrorContextCallback errctx;
	char	   *str;
	Oid			typinput;
	Oid			typioparam;
	Datum		result;

	if (setting->type == JSONBOID)
	{
		if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("shop setting \"%s\" must be a JSON object", setting->name),
					 errhint("For example: {\"cod\": null, \"bank_transfer\": \"3 days\"}.")));
		return JsonbPGetDatum(JsonbValueToJsonb(v));
	}
	switch (v->type)
	{
		case jbvString:
			str = pnstrdup(v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			str = DatumGetCString(DirectFunctionCall1(numeric_out,
													  NumericGetDatum(v->val.numeric)));
			break;
		case jbvBool:
			str = v->val.boolean ? "true" : "false";
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("shop setting \"%s\" must be a string, number or boolean",
							setting->name)));
			str = NULL;			/* keep compiler quiet */
	}

	errctx.callback = SettingErrorContext;
	errctx.arg = (void *) setting->name;
	errctx.previous = error_context_stack;
	error_context_stack = &errctx;
	getTypeInputInfo(setting->type, &typinput, &typioparam);
	result = OidInputFunctionCall(typinput, str, typioparam, -1);
	error_context_stack = errctx.previous;
	return result;
}

static void
BadSetting(const ShopSetting *setting, const char *rule)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("shop setting \"%s\" must be %s", setting->name, rule)));
}

static void CheckTimeouts(Jsonb *timeouts);

static Datum
CheckSetting(const ShopSetting *setting, Datum value)
{
	switch (setting->check)
	{
		case CHECK_NONE:
			break;
		case CHECK_NOT_BLANK:
			CheckNotBlank(setting->name, TextDatumGetCString(value));
			break;
		case CHECK_CURRENCY:
			return CStringGetTextDatum(CurrencyArg(DatumGetTextPP(value)));
		case CHECK_LOCALE:
			om_check_locale(TextDatumGetCString(value));
			break;
		case CHECK_TIMEZONE:
			CheckTimezone(TextDatumGetCString(value));
			break;
		case CHECK_POSITIVE:
		case CHECK_NOT_NEGATIVE:
			if (setting->type == INTERVALOID)
			{
				Interval   *zero = palloc0(sizeof(Interval));
				bool		ok = setting->check == CHECK_POSITIVE ?
				DatumGetBool(DirectFunctionCall2(interval_gt, value, IntervalPGetDatum(zero))) :
				DatumGetBool(DirectFunctionCall2(interval_ge, value, IntervalPGetDatum(zero)));

				if (!ok)
					BadSetting(setting, setting->check == CHECK_POSITIVE ?
							   "a positive interval" : "a non-negative interval");
			}
			else
			{
				Numeric		n = DatumGetNumeric(value);
				Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));

				if (!OM_NUMERIC_IS_FINITE(n) ||
					DatumGetBool(DirectFunctionCall2(numeric_lt, value, zero)))
					BadSetting(setting, "a finite number of at least 0");
				if (strcmp(setting->name, "reward_rate") == 0 &&
					om_num_cmp(n, om_num_int(OM_MAX_REWARD_RATE)) > 0)
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("shop setting \"reward_rate\" is out of range"),
							 errdetail("Got %s; a shop earns at most %d points per currency unit.",
									   om_num_text(n), OM_MAX_REWARD_RATE)));
				om_check_amount_range(psprintf("shop setting \"%s\"", setting->name), n);
			}
			break;
		case CHECK_BUCKETS:
			if (DatumGetInt32(value) < 1 || DatumGetInt32(value) > OM_MAX_BUCKETS)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("shop setting \"%s\" must be between 1 and %d", setting->name, OM_MAX_BUCKETS),
						 errdetail("Got %d.", DatumGetInt32(value))));
			break;
		case CHECK_CHANNEL:
			{
				const char *c = TextDatumGetCString(value);
				size_t		len = strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789_");

				if (c[0] == '\0' || (c[0] >= '0' && c[0] <= '9') || c[len] != '\0' ||
					len >= NAMEDATALEN)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("shop setting \"notify_channel\" must be a lower-case identifier of at most %d bytes",
									NAMEDATALEN - 1),
							 errdetail("Got \"%s\".", c),
							 errhint("Let order_mgmt.enable_notify() choose a random one.")));
			}
			break;
		case CHECK_TIMEOUTS:
			CheckTimeouts(DatumGetJsonbP(value));
			break;
		case CHECK_REWARD_UNIT:
			{
				char	   *unit = TextDatumGetCString(value);

				if (strcmp(unit, "points") != 0 && strcmp(unit, "store_credit") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("shop setting \"reward_unit\" must be points or store_credit"),
							 errdetail("Got \"%s\".", unit)));
			}
			break;
	}
	return value;
}

/* The interval text of one payment method's timeout, parsed (om_try). */
typedef struct TimeoutText
{
	const char *text;
	Datum		value;
} TimeoutText;

static void
ParseTimeout(void *arg)
{
	TimeoutText *t = (TimeoutText *) arg;

	t->value = DirectFunctionCall3(interval_in, CStringGetDatum(t->text),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/*
 * payment_timeouts: an object of payment methods (as orders.payment_method
 * names them, "cod" for cash on delivery), each a positive interval or
 * null (no deadline); 22023 otherwise.
 */
static void
CheckTimeouts(Jsonb *timeouts)
{
	static const int bad_input[] = {ERRCODE_INVALID_DATETIME_FORMAT,
	ERRCODE_DATETIME_FIELD_OVERFLOW, ERRCODE_INTERVAL_FIELD_OVERFLOW};
	JsonbIterator *it = JsonbIteratorInit(&timeouts->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *method = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			method = pnstrdup(v.val.string.val, v.val.string.len);
			if (method[0] == '\0' || strlen(method) > 100)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("shop setting \"payment_timeouts\" has an empty or overlong payment method"),
						 errdetail("A payment method is named by 1 to 100 characters.")));
		}
		else if (tok == WJB_VALUE)
		{
			TimeoutText t;
			Interval   *zero = palloc0(sizeof(Interval));

			if (v.type == jbvNull)
				continue;
			if (v.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("payment timeout of method \"%s\" must be an interval or null", method),
						 errdetail("Shop setting \"payment_timeouts\" gives it a JSON %s.",
								   v.type == jbvNumeric ? "number" : v.type == jbvBool ? "boolean" : "array or object"),
						 errhint("Write the interval as a string, for example \"3 days\"; null means no deadline.")));
			t.text = pnstrdup(v.val.string.val, v.val.string.len);
			if (!om_try(ParseTimeout, &t, bad_input, lengthof(bad_input), NULL) ||
				!DatumGetBool(DirectFunctionCall2(interval_gt, t.value, IntervalPGetDatum(zero))))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("payment timeout of method \"%s\" must be a positive interval or null", method),
						 errdetail("Shop setting \"payment_timeouts\" gives it \"%s\".", t.text),
						 errhint("For example \"3 days\"; null means no deadline.")));
		}
	}
}

/*
 * update_shop(shop_id, settings jsonb) -> void
 *
 * Sets any of the shop's settings by name; a JSON null clears the settings
 * that may be NULL (auto_archive_after, high_value_threshold, notify_channel,
 * return_window).
 * payment_timeouts is replaced whole.
 */
PG_FUNCTION_INFO_V1(om_update_shop);
Datum
om_update_shop(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	Jsonb	   *settings;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	StringInfoData sql;
	Datum		values[2 + lengthof(shop_settings)];
	Oid			argtypes[2 + lengthof(shop_settings)];
	char		nulls[2 + lengthof(shop_settings)];
	int			nargs = 2;
	const ShopSetting *setting = NULL;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "settings");
	shop_id = PG_GETARG_INT64(0);
	settings = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(settings))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("settings must be a JSON object"),
				 errhint("For example: {\"payment_timeout\": \"15 minutes\", \"auto_cancel_failed\": true}.")));

	initStringInfo(&sql);
	appendStringInfoString(&sql, "UPDATE order_mgmt.shop SET updated_at = $2");
	argtypes[0] = INT8OID;
	values[0] = Int64GetDatum(shop_id);
	argtypes[1] = TIMESTAMPTZOID;
	values[1] = TimestampTzGetDatum(om_now());
	memset(nulls, ' ', sizeof(nulls));

	it = JsonbIteratorInit(&settings->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char	   *key = pnstrdup(v.val.string.val, v.val.string.len);

			setting = FindSetting(key);
			/* a setting added since 0.1.0 needs ALTER EXTENSION UPDATE first */
			om_require_column("shop", setting->name,
							  psprintf("shop setting \"%s\"", setting->name));
		}
		else if (tok == WJB_VALUE)
		{
			Assert(setting != NULL);
			argtypes[nargs] = setting->type;
			if (v.type == jbvNull)
			{
				if (!setting->nullable)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("shop setting \"%s\" must not be null", setting->name)));
				values[nargs] = (Datum) 0;
				nulls[nargs] = 'n';
			}
			else
				values[nargs] = CheckSetting(setting, SettingValue(setting, &v));
			/* setting names come from shop_settings[], never from the caller */
			appendStringInfo(&sql, ", %s = $%d%s", quote_identifier(setting->name), nargs + 1,
							 setting->check == CHECK_REWARD_UNIT ? "::order_mgmt.reward_unit" : "");
			nargs++;
		}
	}
	appendStringInfoString(&sql, " WHERE shop_id = $1");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql.data, nargs, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update shop " INT64_FORMAT, shop_id);
	if (SPI_processed == 0)
		om_shop_not_found(shop_id);
	om_events_forget_channel();		/* notify_channel may have changed */
	SPI_finish();
	PG_RETURN_VOID();
}

/* A plausible e-mail address: local@domain, no white space or controls. */
void
om_check_email(const char *email)
{
	const char *at = strchr(email, '@');
	const char *p;

	for (p = email; *p; p++)
		if ((unsigned char) *p <= ' ' || *p == 0x7f)
			break;
	if (at == NULL || at == email || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
		*p != '\0' || strlen(email) > 254)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid e-mail address \"%s\"", email),
				 errdetail("An e-mail address is local@domain, at most 254 bytes, without white space.")));
}

/* An e-mail argument: surrounding white space (a typing accident) trimmed, then checked. */
char *
om_email_arg(text *arg)
{
	char	   *email = text_to_cstring(arg);
	char	   *end;

	while (isspace((unsigned char) *email))
		email++;
	end = email + strlen(email);
	while (end > email && isspace((unsigned char) end[-1]))
		*--end = '\0';
	om_check_email(email);
	return email;
}

/*
 * upsert_customer(shop_id, customer_id, email, is_member, name, phone) -> void
 */
PG_FUNCTION_INFO_V1(om_upsert_customer);
Datum
om_upsert_customer(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, BOOLOID,
	TEXTOID, TEXTOID, TIMESTAMPTZOID};
	int64		shop_id;
	char	   *customer_id;
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "customer_id");
	OM_ARG_NOT_NULL(3, "is_member");
	shop_id = PG_GETARG_INT64(0);
	customer_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	om_check_identifier("customer_id", customer_id);

	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(customer_id);
	if (PG_ARGISNULL(2))
		nulls[2] = nulls[3] = 'n';
	else
	{
		char	   *email = om_email_arg(PG_GETARG_TEXT_PP(2));

		values[2] = CStringGetTextDatum(email);
		values[3] = CStringGetTextDatum(om_normalize(email, true));
	}
	values[4] = BoolGetDatum(PG_GETARG_BOOL(3));
	if (PG_ARGISNULL(4))
		nulls[5] = 'n';
	else
		values[5] = PointerGetDatum(PG_GETARG_TEXT_PP(4));
	if (PG_ARGISNULL(5))
		nulls[6] = 'n';
	else
		values[6] = PointerGetDatum(PG_GETARG_TEXT_PP(5));
	values[7] = TimestampTzGetDatum(om_now());

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_require_shop(shop_id);
	om_plan(&plan,
			"INSERT INTO order_mgmt.customer AS c"
			" (shop_id, customer_id, email, email_key, is_member, name, phone, created_at, updated_at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
			" ON CONFLICT (shop_id, customer_id) DO UPDATE SET"
			" email = EXCLUDED.email, email_key = EXCLUDED.email_key,"
			" is_member = EXCLUDED.is_member, name = EXCLUDED.name,"
			" phone = EXCLUDED.phone, updated_at = EXCLUDED.updated_at",
			8, argtypes);
	om_exec(plan, values, nulls, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}
