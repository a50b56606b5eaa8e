/*-------------------------------------------------------------------------
 *
 * address.c
 *	  Shipping and billing addresses of orders (issue 18): the address
 *	  JSON checked, the first versions written at checkout, and
 *	  set_address() until the order ships.
 *
 * An address is a JSON object with known keys, each a string: name,
 * line1, line2, city, region, postal_code, country (ISO 3166-1 alpha-2,
 * as ICU lists the codes) and phone; line1 and country are required.
 * SQL NULL means no address.  Anything else is 22023 with a DETAIL naming
 * the key (om_address_check).
 *
 * Addresses live in order_address, apart from the order's money and
 * history, so that an erasure (erasure.c) blanks them in one place.  They
 * are versioned: a change adds a version, the newest is the current one,
 * and the address event of a change names the version and the fields that
 * changed, never their values, because the event log is append-only and
 * an erasure cannot blank it.
 *
 * Lock order: set_address() takes the order first (order_lock.c), then
 * reads the current version and inserts the next one under that lock, so
 * versions are numbered without gaps or duplicates.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unicode/uloc.h>

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "address.h"
#include "clock.h"
#include "events.h"
#include "machines.h"
#include "om_args.h"
#include "om_errcodes.h"
#include "order_lock.h"
#include "rls.h"
#include "spi_util.h"

/* The keys of an address, with the longest value each takes (characters). */
typedef struct AddressField
{
	const char *key;
	int			max_chars;
	bool		required;
} AddressField;

static const AddressField fields[] = {
	{"name", 200, false},
	{"line1", 200, true},
	{"line2", 200, false},
	{"city", 100, false},
	{"region", 100, false},
	{"postal_code", 20, false},
	{"country", 2, true},
	{"phone", 40, false},
};

#define FIELD_NAMES "name, line1, line2, city, region, postal_code, country, phone"

static const AddressField *FindField(const char *key, int len);
static void CheckValue(const char *argname, const AddressField *f, const JsonbValue *v);
static void CheckCountry(const char *argname, const char *code);
static char *FieldText(Jsonb *address, const char *key);
static void CheckAddressable(const OmOrder *o);

/*
 * Check an address argument (argname is its SQL name, for the messages):
 * an object whose keys are known, whose values are non-empty strings
 * within their length and without control characters, with line1 and a
 * known country.  22023 otherwise; NULL (the caller's) is no address.
 */
void
om_address_check(const char *argname, Jsonb *address)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	const AddressField *f = NULL;
	int			i;

	if (!JB_ROOT_IS_OBJECT(address) || JB_ROOT_IS_SCALAR(address))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", argname),
				 errdetail("An address is an object with the keys " FIELD_NAMES "."),
				 errhint("Pass SQL NULL for no address.")));
	it = JsonbIteratorInit(&address->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			f = FindField(v.val.string.val, v.val.string.len);
			if (f == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s has an unknown key \"%s\"", argname,
								pnstrdup(v.val.string.val, v.val.string.len)),
						 errdetail("An address has the keys " FIELD_NAMES ".")));
		}
		else if (tok == WJB_VALUE)
			CheckValue(argname, f, &v);
	}
	for (i = 0; i < lengthof(fields); i++)
		if (fields[i].required &&
			getKeyJsonValueFromContainer(&address->root, fields[i].key,
										 strlen(fields[i].key), NULL) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s has no \"%s\"", argname, fields[i].key),
					 errdetail("An address needs at least line1 and country.")));
}

/* The field of this key, or NULL when it is not an address key. */
static const AddressField *
FindField(const char *key, int len)
{
	int			i;

	for (i = 0; i < lengthof(fields); i++)
		if (strlen(fields[i].key) == len && strncmp(fields[i].key, key, len) == 0)
			return &fields[i];
	return NULL;
}

/*
 * One value: a string, not empty or blank, at most f->max_chars
 * characters, without control characters (C0, DEL and, in UTF-8, C1).
 */
static void
CheckValue(const char *argname, const AddressField *f, const JsonbValue *v)
{
	const unsigned char *s;
	char	   *str;
	int			len;
	int			i;

	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s.%s must be a string", argname, f->key),
				 errdetail("Every address value is a JSON string; leave a key out for none.")));
	s = (const unsigned char *) v->val.string.val;
	len = v->val.string.len;
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f ||
			(GetDatabaseEncoding() == PG_UTF8 && s[i] == 0xc2 && i + 1 < len &&
			 s[i + 1] >= 0x80 && s[i + 1] <= 0x9f))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s.%s contains a control character", argname, f->key),
					 errdetail("Byte 0x%02x at byte offset %d: an address is printed on labels, one line per field.",
							   s[i] == 0xc2 ? s[i + 1] : s[i], i)));
	str = pnstrdup(v->val.string.val, len);
	if (str[strspn(str, " \t")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s.%s must not be empty", argname, f->key),
				 errhint("Leave the key out for none.")));
	if (pg_mbstrlen_with_len(str, len) > f->max_chars)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s.%s is too long", argname, f->key),
				 errdetail("It has %d characters; at most %d are allowed.",
						   pg_mbstrlen_with_len(str, len), f->max_chars)));
	if (strcmp(f->key, "country") == 0)
		CheckCountry(argname, str);
}

/* country: an ISO 3166-1 alpha-2 code in upper case that ICU knows. */
static void
CheckCountry(const char *argname, const char *code)
{
	const char *const *known = uloc_getISOCountries();

	for (; *known; known++)
		if (strcmp(*known, code) == 0)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s.country \"%s\" is not an ISO 3166-1 alpha-2 country code", argname, code),
			 errdetail("A country is two upper-case letters, such as TW, TH or FI.")));
}

/*
 * Insert version 1 of the checkout's addresses (either may be NULL, not
 * both) in one INSERT ... VALUES.  Inside SPI.
 */
void
om_address_insert_first(int64 shop_id, int64 order_id, Jsonb *shipping, Jsonb *billing,
						TimestampTz now)
{
	static SPIPlanPtr one_plan = NULL;
	static SPIPlanPtr both_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, JSONBOID,
	TEXTOID, JSONBOID};
	Datum		values[8];

	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(now);
	values[3] = CStringGetTextDatum(om_actor());
	if (shipping && billing)
	{
		om_plan(&both_plan,
				"INSERT INTO order_mgmt.order_address (shop_id, order_id, kind, version, address,"
				"    set_at, actor)"
				" VALUES ($1, $2, $5, 1, $6, $3, $4), ($1, $2, $7, 1, $8, $3, $4)",
				8, argtypes);
		values[4] = CStringGetTextDatum("shipping");
		values[5] = JsonbPGetDatum(shipping);
		values[6] = CStringGetTextDatum("billing");
		values[7] = JsonbPGetDatum(billing);
		om_exec_quiet(both_plan, values, NULL, false, 0);
		return;
	}
	om_plan(&one_plan,
			"INSERT INTO order_mgmt.order_address (shop_id, order_id, kind, version, address,"
			"    set_at, actor)"
			" VALUES ($1, $2, $5, 1, $6, $3, $4)",
			6, argtypes);
	values[4] = CStringGetTextDatum(shipping ? "shipping" : "billing");
	values[5] = JsonbPGetDatum(shipping ? shipping : billing);
	om_exec_quiet(one_plan, values, NULL, false, 0);
}

/*
 * set_address(shop_id, order_id, kind, address) -> integer
 *
 * Sets the order's shipping or billing address while the order may still
 * take it (CheckAddressable); NULL removes it.  The same address again
 * changes nothing and writes no event.  Otherwise a new version and an
 * address event naming the version and the fields that changed, without
 * their values.  Returns the current version (0 when none was ever set).
 */
PG_FUNCTION_INFO_V1(om_set_address);
Datum
om_set_address(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr current_plan = NULL;
	static SPIPlanPtr insert_plan = NULL;
	static const Oid current_types[] = {INT8OID, INT8OID, TEXTOID};
	static const Oid insert_types[] = {INT8OID, INT8OID, TEXTOID, INT4OID, JSONBOID,
	TIMESTAMPTZOID, TEXTOID};
	char	   *kind;
	Jsonb	   *address = NULL;
	Jsonb	   *old = NULL;
	int32		version = 0;
	OmOrder		o;
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	StringInfoData detail;
	int			nchanged = 0;
	int			i;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "order_id");
	OM_ARG_NOT_NULL(2, "kind");
	kind = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(kind, "shipping") != 0 && strcmp(kind, "billing") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown address kind \"%s\"", kind),
				 errdetail("An order has a shipping and a billing address.")));
	if (!PG_ARGISNULL(3))
	{
		address = PG_GETARG_JSONB_P(3);
		om_address_check("address", address);
	}

	om_enter_order(PG_GETARG_INT64(0), PG_GETARG_INT64(1), &o);
	CheckAddressable(&o);

	/* the current version, read under the order's lock */
	om_plan(&current_plan,
			"SELECT version, address FROM order_mgmt.order_address"
			" WHERE shop_id = $1 AND order_id = $2 AND kind = $3"
			" ORDER BY version DESC LIMIT 1",
			3, current_types);
	values[0] = Int64GetDatum(o.shop_id);
	values[1] = Int64GetDatum(o.order_id);
	values[2] = CStringGetTextDatum(kind);
	om_exec(current_plan, values, NULL, false, 1);
	if (SPI_processed == 1)
	{
		Datum		d;

		version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (!isnull)
			old = DatumGetJsonbPCopy(d);
	}
	if ((old == NULL && address == NULL) ||
		(old != NULL && address != NULL &&
		 DatumGetBool(DirectFunctionCall2(jsonb_eq, JsonbPGetDatum(old), JsonbPGetDatum(address)))))
	{
		SPI_finish();
		PG_RETURN_INT32(version);
	}

	version++;
	om_plan(&insert_plan,
			"INSERT INTO order_mgmt.order_address (shop_id, order_id, kind, version, address,"
			"    set_at, actor)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7)",
			7, insert_types);
	values[3] = Int32GetDatum(version);
	if (address)
		values[4] = JsonbPGetDatum(address);
	else
		nulls[4] = 'n';
	values[5] = TimestampTzGetDatum(om_now());
	values[6] = CStringGetTextDatum(om_actor());
	om_exec_quiet(insert_plan, values, nulls, false, 0);

	/* the event: which fields changed, never their values */
	initStringInfo(&detail);
	appendStringInfo(&detail, "{\"kind\": \"%s\", \"version\": %d, \"removed\": %s, \"changed\": [",
					 kind, version, address ? "false" : "true");
	for (i = 0; i < lengthof(fields); i++)
	{
		char	   *was = old ? FieldText(old, fields[i].key) : NULL;
		char	   *now = address ? FieldText(address, fields[i].key) : NULL;

		if ((was == NULL) != (now == NULL) || (was && strcmp(was, now) != 0))
			appendStringInfo(&detail, "%s\"%s\"", nchanged++ > 0 ? ", " : "", fields[i].key);
	}
	appendStringInfoString(&detail, "]}");
	om_event_write(o.shop_id, o.order_id, "address", NULL, NULL, detail.data);
	SPI_finish();
	PG_RETURN_INT32(version);
}

/* The string value of key in an address, or NULL when it has none. */
static char *
FieldText(Jsonb *address, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&address->root, key, strlen(key), NULL);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * An order takes a new address until it ships: not archived (OM008), not
 * cancelled or completed, delivery still before shipment (OM013).
 */
static void
CheckAddressable(const OmOrder *o)
{
	if (o->archived)
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_ARCHIVED),
				 errmsg("cannot change an address of order " INT64_FORMAT ": it is archived", o->order_id),
				 errhint("Unarchive it first with order_mgmt.unarchive().")));
	if (o->status == OS_CANCELLED || o->status == OS_COMPLETED)
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
				 errmsg("cannot change an address of order " INT64_FORMAT ": it is %s", o->order_id,
						om_state_name(OM_MACHINE_ORDER, o->status)),
				 errdetail("Addresses can be changed on a pending or confirmed order until it ships.")));
	if (!om_delivery_pre_shipment(o->delivery))
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
				 errmsg("cannot change an address of order " INT64_FORMAT ": it has shipped", o->order_id),
				 errdetail("Its delivery is %s; addresses can be changed only before shipment.",
						   om_state_name(OM_MACHINE_DELIVERY, o->delivery))));
}
