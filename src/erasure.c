/*-------------------------------------------------------------------------
 *
 * erasure.c
 *	  GDPR erasure (issue 18): erase_customer() and erase_guest() blank a
 *	  person's names, e-mails and addresses and keep the money and the
 *	  history.
 *
 * What is personal data here, and what an erasure does with it:
 *
 *	customer.email, email_key, name, phone	blanked (NULL); the row stays,
 *		because orders and store credit refer to its customer_id, which is
 *		the shop's own pseudonymous id and is kept;
 *	orders.email (and email_key, which the guard trigger derives from it)
 *		blanked, also on archived orders;
 *	order_address, every version		address blanked, erased_at set;
 *	promo_redemption.email_key, promo_redemption.who and
 *	promo_customer_use.who of guests ("email:<key>"), promo_code.email_key
 *	(a guest's win-back code)			replaced by a one-way digest
 *		"sha256:<hex>" of the normalized e-mail, so that the per-customer
 *		counts stay consistent with their ledger (verify()) without the
 *		e-mail in them; a later checkout with that e-mail does not match
 *		the digest, so the erased person starts afresh.
 *
 * Kept: money, statuses, lines, payments, shipments, events.  The event
 * log holds no e-mail or address (address events name fields only), so it
 * stays append-only; each order changed gets an erasure event saying what
 * was blanked, with no personal data.  Free text the merchant wrote
 * (notes, cancellation notes, feedback comments) is not touched.
 *
 * erase_customer() covers the customer's orders and the guest orders with
 * the customer's e-mail (a member owns the guest orders of their e-mail,
 * as in customer_cancel, SPEC §8); erase_guest() the guest orders with an
 * e-mail, and no customer row.
 *
 * Lock order: the customer row (an UPDATE: FOR NO KEY UPDATE, which a
 * foreign key's FOR KEY SHARE does not wait for, but checkout's read of the
 * customer's e-mail, FOR SHARE, does), then the orders in order_id order,
 * then their addresses and promo rows, the promo codes before the
 * per-customer counts as checkout takes them.  A checkout that read the
 * customer's e-mail first commits before the erasure reads the orders, so
 * its order is erased too; one that comes after reads the blanked e-mail.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "clock.h"
#include "events.h"
#include "icu.h"
#include "om_args.h"
#include "rls.h"
#include "shop.h"
#include "spi_util.h"


/* What an erasure blanked of one order, for its event */
typedef struct Erased
{
	int64		order_id;
	bool		email;
	int			addresses;		/* address versions blanked */
	bool		promo;			/* e-mail keys of its promo claim digested */
} Erased;

static char *EraseCustomerRow(int64 shop_id, const char *customer_id);
static int	EraseOrders(int64 shop_id, const char *customer_id, const char *email_key);
static Datum LockOrders(int64 shop_id, const char *customer_id, const char *email_key, int *n);
static Erased *FindErased(Erased *e, int n, int64 order_id);
static void MarkErased(SPIPlanPtr *slot, const char *sql, Datum *values, Erased *e, int n,
					   int what);
static void DigestClaims(Datum *values, Erased *e, int n);
static char *Digest(const char *email_key);
static void DigestGuestKey(int64 shop_id, const char *email_key);
static void KeyAndDigest(SPIPlanPtr *slot, const char *sql, int64 shop_id,
						 const char *email_key, const char *digest);

/*
 * erase_customer(shop_id, customer_id) -> integer
 *
 * Blanks the customer's personal data and that of their orders and of the
 * guest orders with their e-mail; returns how many orders changed (0 when
 * called again).  22023 when there is no such customer, OM014 no shop.
 */
PG_FUNCTION_INFO_V1(om_erase_customer);
Datum
om_erase_customer(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	char	   *customer_id;
	char	   *email_key;
	int			n;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "customer_id");
	shop_id = PG_GETARG_INT64(0);
	customer_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_require_shop(shop_id);
	email_key = EraseCustomerRow(shop_id, customer_id);
	n = EraseOrders(shop_id, customer_id, email_key);
	SPI_finish();
	PG_RETURN_INT32(n);
}

/*
 * erase_guest(shop_id, email) -> integer
 *
 * The same for the guest orders (no customer) with this e-mail, compared
 * as normalize_email() does.  A customer with the e-mail is not touched:
 * that is erase_customer()'s.
 */
PG_FUNCTION_INFO_V1(om_erase_guest);
Datum
om_erase_guest(PG_FUNCTION_ARGS)
{
	int64		shop_id;
	char	   *email_key;
	int			n;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "email");
	shop_id = PG_GETARG_INT64(0);
	email_key = om_normalize(text_to_cstring(PG_GETARG_TEXT_PP(1)), true);
	if (email_key[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("email must not be empty")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_require_shop(shop_id);
	n = EraseOrders(shop_id, NULL, email_key);
	SPI_finish();
	PG_RETURN_INT32(n);
}

/*
 * Lock the customer's row and blank its e-mail, name and phone (only if
 * one is left, so a second erasure writes nothing).  Returns the e-mail's
 * key it had, or NULL; 22023 when there is no such customer.
 */
static char *
EraseCustomerRow(int64 shop_id, const char *customer_id)
{
	static SPIPlanPtr read_plan = NULL;
	static SPIPlanPtr blank_plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];
	bool		isnull;
	Datum		d;
	char	   *email_key;

	om_plan(&read_plan,
			"SELECT email_key FROM order_mgmt.customer WHERE shop_id = $1 AND customer_id = $2"
			" FOR NO KEY UPDATE",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(customer_id);
	values[2] = TimestampTzGetDatum(om_now());
	om_exec(read_plan, values, NULL, false, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("customer \"%s\" does not exist in shop " INT64_FORMAT, customer_id, shop_id),
				 errhint("For a guest's orders use order_mgmt.erase_guest() with the e-mail.")));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	email_key = isnull ? NULL : TextDatumGetCString(d);

	om_plan(&blank_plan,
			"UPDATE order_mgmt.customer SET email = NULL, email_key = NULL, name = NULL, phone = NULL,"
			"    updated_at = $3"
			" WHERE shop_id = $1 AND customer_id = $2"
			"   AND (email IS NOT NULL OR email_key IS NOT NULL OR name IS NOT NULL OR phone IS NOT NULL)",
			3, argtypes);
	om_exec_quiet(blank_plan, values, NULL, false, 0);
	return email_key;
}

/* what MarkErased() marks */
#define ERASED_EMAIL		1
#define ERASED_ADDRESS		2
#define ERASED_PROMO		3

/*
 * Erase the orders of the customer (customer_id, or NULL) and the guest
 * orders with email_key (or NULL): e-mails, addresses and the e-mail keys
 * of their promo claims, then one erasure event per order changed.
 * Returns how many orders changed.
 */
static int
EraseOrders(int64 shop_id, const char *customer_id, const char *email_key)
{
	static SPIPlanPtr email_plan = NULL;
	static SPIPlanPtr address_plan = NULL;
	Datum		values[5];
	Erased	   *erased;
	int			n;
	int			changed = 0;
	int			i;

	values[0] = Int64GetDatum(shop_id);
	values[1] = LockOrders(shop_id, customer_id, email_key, &n);
	values[2] = TimestampTzGetDatum(om_now());
	values[3] = values[4] = (Datum) 0;	/* DigestClaims() sets them */
	erased = palloc0(sizeof(Erased) * (n + 1));
	if (n > 0)
	{
		ArrayType  *ids = DatumGetArrayTypeP(values[1]);
		int64	   *id = (int64 *) ARR_DATA_PTR(ids);

		for (i = 0; i < n; i++)
			erased[i].order_id = id[i];

		/* the guard trigger blanks email_key with the e-mail */
		MarkErased(&email_plan,
				   "UPDATE order_mgmt.orders SET email = NULL"
				   " WHERE shop_id = $1 AND order_id = ANY ($2)"
				   "   AND (email IS NOT NULL OR email_key IS NOT NULL)"
				   " RETURNING order_id",
				   values, erased, n, ERASED_EMAIL);
		MarkErased(&address_plan,
				   "UPDATE order_mgmt.order_address SET address = NULL, erased_at = $3"
				   " WHERE shop_id = $1 AND order_id = ANY ($2) AND address IS NOT NULL"
				   " RETURNING order_id",
				   values, erased, n, ERASED_ADDRESS);
		DigestClaims(values, erased, n);
	}
	if (email_key)
		DigestGuestKey(shop_id, email_key);

	for (i = 0; i < n; i++)
	{
		Erased	   *e = &erased[i];

		if (!e->email && e->addresses == 0 && !e->promo)
			continue;
		om_event_write(shop_id, e->order_id, "erasure", NULL, NULL,
					   psprintf("{\"email\": %s, \"addresses\": %d, \"promo\": %s}",
								e->email ? "true" : "false", e->addresses,
								e->promo ? "true" : "false"));
		changed++;
	}
	return changed;
}

/*
 * Lock the orders to erase, in order_id order (the customer's, and the
 * guest orders with email_key), with a snapshot taken after the customer
 * row's lock.  Returns their ids as a bigint[] and their number in *n.
 */
static Datum
LockOrders(int64 shop_id, const char *customer_id, const char *email_key, int *n)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	Datum	   *ids;
	bool		isnull;
	uint64		i;

	om_plan(&plan,
			"SELECT order_id FROM order_mgmt.orders"
			" WHERE shop_id = $1 AND (customer_id = $2 OR (customer_id IS NULL AND email_key = $3))"
			" ORDER BY order_id FOR UPDATE",
			3, argtypes);
	values[0] = Int64GetDatum(shop_id);
	om_text_param(values, nulls, 1, customer_id);
	om_text_param(values, nulls, 2, email_key);
	om_exec(plan, values, nulls, false, 0);
	*n = (int) SPI_processed;
	ids = palloc(sizeof(Datum) * (*n + 1));
	for (i = 0; i < SPI_processed; i++)
		ids[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
	return om_int8_array(ids, *n);
}

/* The entry of order_id in e (sorted by order_id), or NULL. */
static Erased *
FindErased(Erased *e, int n, int64 order_id)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (e[mid].order_id == order_id)
			return &e[mid];
		if (e[mid].order_id < order_id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/*
 * Run one erasing UPDATE ($1 shop, $2 the orders, $3 now, $4 an e-mail key
 * and $5 its digest) that returns the order_id of each row it changed, and
 * mark what it erased of them.
 */
static void
MarkErased(SPIPlanPtr *slot, const char *sql, Datum *values, Erased *e, int n, int what)
{
	static const Oid argtypes[] = {INT8OID, INT8ARRAYOID, TIMESTAMPTZOID, TEXTOID, TEXTOID};
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	uint64		i;

	/* no key yet: NULLs (Citus sends every parameter, used or not) */
	if (values[3] == (Datum) 0)
		nulls[3] = nulls[4] = 'n';
	om_plan(slot, sql, 5, argtypes);
	om_exec(*slot, values, nulls, false, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		Erased	   *x = FindErased(e, n,
								   DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 1, &isnull)));

		if (x == NULL)
			continue;
		if (what == ERASED_EMAIL)
			x->email = true;
		else if (what == ERASED_ADDRESS)
			x->addresses++;
		else
			x->promo = true;
	}
}

/*
 * The e-mail keys the orders' promo claims recorded take their digests,
 * one UPDATE per key (an order or two's claims, most often of one key).
 * values are EraseOrders()'s; $4 and $5 are set here.
 */
static void
DigestClaims(Datum *values, Erased *e, int n)
{
	static SPIPlanPtr keys_plan = NULL;
	static SPIPlanPtr digest_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8ARRAYOID};
	List	   *keys = NIL;
	ListCell   *lc;
	bool		isnull;
	uint64		i;

	om_plan(&keys_plan,
			"SELECT DISTINCT email_key FROM order_mgmt.promo_redemption"
			" WHERE shop_id = $1 AND order_id = ANY ($2) AND email_key NOT LIKE 'sha256:%'",
			2, argtypes);
	om_exec(keys_plan, values, NULL, false, 0);
	for (i = 0; i < SPI_processed; i++)
		keys = lappend(keys, TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 1, &isnull)));
	foreach(lc, keys)
	{
		values[3] = CStringGetTextDatum((char *) lfirst(lc));
		values[4] = CStringGetTextDatum(Digest((char *) lfirst(lc)));
		MarkErased(&digest_plan,
				   "UPDATE order_mgmt.promo_redemption SET email_key = $5"
				   " WHERE shop_id = $1 AND order_id = ANY ($2) AND email_key = $4"
				   " RETURNING order_id",
				   values, e, n, ERASED_PROMO);
	}
}

/* "sha256:" and the hex SHA-256 of a normalized e-mail (its bytes) */
static char *
Digest(const char *email_key)
{
	bytea	   *hash = DatumGetByteaPP(DirectFunctionCall1(sha256_bytea,
														   PointerGetDatum(cstring_to_text(email_key))));
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	appendStringInfoString(&s, "sha256:");
	for (i = 0; i < VARSIZE_ANY_EXHDR(hash); i++)
		appendStringInfo(&s, "%02x", (unsigned char) VARDATA_ANY(hash)[i]);
	return s.data;
}

/*
 * A guest's e-mail key where promo codes keep it: the guest's claims
 * counted per e-mail ("email:<key>") and its win-back codes take the
 * digest.  The codes first, then the counts, as checkout locks them; the
 * counts are moved onto the digest's row (which an earlier erasure of the
 * same e-mail may have made), then the e-mail's row goes.
 */
static void
DigestGuestKey(int64 shop_id, const char *email_key)
{
	static SPIPlanPtr code_plan = NULL;
	static SPIPlanPtr claim_plan = NULL;
	static SPIPlanPtr move_plan = NULL;
	static SPIPlanPtr drop_plan = NULL;
	char	   *digest = Digest(email_key);

	KeyAndDigest(&code_plan,
				 "UPDATE order_mgmt.promo_code SET email_key = $3"
				 " WHERE shop_id = $1 AND email_key = $2",
				 shop_id, email_key, digest);
	KeyAndDigest(&claim_plan,
				 "UPDATE order_mgmt.promo_redemption SET who = 'email:' || $3"
				 " WHERE shop_id = $1 AND who = 'email:' || $2",
				 shop_id, email_key, digest);
	KeyAndDigest(&move_plan,
				 "INSERT INTO order_mgmt.promo_customer_use AS c (shop_id, code_key, who, used)"
				 " SELECT shop_id, code_key, 'email:' || $3, used"
				 " FROM order_mgmt.promo_customer_use WHERE shop_id = $1 AND who = 'email:' || $2"
				 " ON CONFLICT (shop_id, code_key, who) DO UPDATE SET used = c.used + EXCLUDED.used",
				 shop_id, email_key, digest);
	KeyAndDigest(&drop_plan,
				 "DELETE FROM order_mgmt.promo_customer_use WHERE shop_id = $1 AND who = 'email:' || $2",
				 shop_id, email_key, digest);
}

/* Run a statement of DigestGuestKey(): $1 shop, $2 the e-mail key, $3 its digest. */
static void
KeyAndDigest(SPIPlanPtr *slot, const char *sql, int64 shop_id, const char *email_key,
			 const char *digest)
{
	static const Oid argtypes[] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];

	om_plan(slot, sql, 3, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(email_key);
	values[2] = CStringGetTextDatum(digest);
	om_exec_quiet(*slot, values, NULL, false, 0);
}
