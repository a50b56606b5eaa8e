/*-------------------------------------------------------------------------
 *
 * rls.c
 *	  Row-level security by shop (issue 19, SPEC §17): who may act on
 *	  which shop, the policies on the shop tables, and switching them on
 *	  and off.
 *
 * Off by default.  enable_rls() puts one policy, shop_isolation, on every
 * table of the schema that has a shop_id column and enables row-level
 * security on it; disable_rls() takes them off again.  Whether it is on is
 * read from the catalog (pg_class.relrowsecurity of order_mgmt.orders,
 * through the syscache, with check_enable_rls() deciding whether the
 * caller is subject to it: a superuser, a BYPASSRLS role and the tables'
 * owner are not), so there is no flag to keep in step and no statement
 * when it is off.
 *
 * Which shops a role may see is the table shop_access (shop, role): a role
 * may use a shop when it has the privileges of a role mapped to it.  The
 * setting order_mgmt.shop_id, when set, narrows that to one shop: a pool
 * whose connections all log in as one role sets it per transaction (SET
 * LOCAL) so that a bug in the application cannot reach another of the
 * pool's shops.  It can only narrow: a shop not mapped stays out of reach
 * whatever the setting says.  Both fail closed: no mapping, or a setting
 * naming another shop, means no rows and no calls.
 *
 * The API functions run as the extension's owner (SECURITY DEFINER), which
 * bypasses the policies, so each checks its caller's shop itself first:
 * OM_SHOP_ARG() (rls.h) where it checks its shop_id argument, which calls
 * om_rls_check_shop().  The caller is GetOuterUserId(), the role the
 * session acts as, which SECURITY DEFINER does not change (the actor of
 * the events, events.c).  The sweeper runs as a superuser and is never
 * restricted.
 *
 * Citus 13 propagates policies to the shards but refuses a subquery in a
 * policy, and the mapping would have to be read on the workers:
 * enable_rls() refuses there (docs/citus.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"

#include "compat.h"
#include "rls.h"
#include "spi_util.h"

/* order_mgmt.shop_id: empty, or the one shop this session may use */
static char *shop_setting = NULL;

/*
 * The last shop a restricted caller was let in to, in this transaction:
 * an API call that checks its shop twice (once before judging its other
 * arguments, once where it takes the order) runs one statement, not two.
 * Forgotten when the mapping changes.
 */
static struct
{
	LocalTransactionId lxid;
	Oid			role;
	int64		shop_id;
}			let_in = {InvalidLocalTransactionId, InvalidOid, 0};

static bool
CheckShopSetting(char **newval, void **extra, GucSource source)
{
	char	   *end;
	int64		v;

	if (*newval == NULL || **newval == '\0')
		return true;
	errno = 0;
	v = strtoi64(*newval, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
	{
		GUC_check_errdetail("order_mgmt.shop_id must be empty or a shop id (a positive bigint).");
		return false;
	}
	return true;
}

void
om_rls_define_guc(void)
{
	DefineCustomStringVariable("order_mgmt.shop_id",
							   "Sets the one shop this session acts for when row-level security is on.",
							   "Empty: every shop mapped to the role in order_mgmt.shop_access. "
							   "It only narrows that set; a pool sets it per transaction with SET LOCAL.",
							   &shop_setting,
							   "",
							   PGC_USERSET,
							   0,
							   CheckShopSetting, NULL, NULL);
}

/* The shop order_mgmt.shop_id names; false when it is empty. */
static bool
ShopSetting(int64 *shop_id)
{
	if (shop_setting == NULL || *shop_setting == '\0')
		return false;
	*shop_id = strtoi64(shop_setting, NULL, 10);
	return true;
}

/*
 * Whether row-level security is on and applies to role: syscache lookups
 * only, no statement.  False on a schema without order_mgmt.orders.
 */
bool
om_rls_restricts(Oid role)
{
	Oid			nsp = get_namespace_oid("order_mgmt", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid("orders", nsp) : InvalidOid;

	return OidIsValid(rel) && check_enable_rls(rel, role, true) == RLS_ENABLED;
}

/*
 * The shops role may use, by order_mgmt.shop_access and narrowed by
 * order_mgmt.shop_id; shop_id > 0 asks about that shop only (one
 * statement on the mapping's key).  Returns how many; *shops (may be
 * NULL) gets them, palloc'd in the caller's context.
 */
static int
AllowedShops(Oid role, int64 shop_id, int64 **shops)
{
	static SPIPlanPtr one_plan = NULL;
	static SPIPlanPtr all_plan = NULL;
	static const Oid argtypes[] = {INT8OID};
	MemoryContext caller = CurrentMemoryContext;
	int64		setting;
	int64	   *out;
	Datum		values[1];
	uint64		i;
	int			n = 0;

	if (ShopSetting(&setting))
	{
		if (shop_id > 0 && shop_id != setting)
			return 0;
		shop_id = setting;
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = Int64GetDatum(shop_id);
	if (shop_id > 0)
		om_exec(om_plan(&one_plan,
						"SELECT shop_id, role_name::text FROM order_mgmt.shop_access WHERE shop_id = $1",
						1, argtypes), values, NULL, true, 0);
	else
		om_exec(om_plan(&all_plan,
						"SELECT shop_id, role_name::text FROM order_mgmt.shop_access ORDER BY shop_id",
						0, NULL), NULL, NULL, true, 0);
	out = MemoryContextAlloc(caller, sizeof(int64) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		shop = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		char	   *name = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		Oid			mapped = get_role_oid(name, true);

		if ((n > 0 && out[n - 1] == shop) || !OidIsValid(mapped) || !has_privs_of_role(role, mapped))
			continue;
		out[n++] = shop;
	}
	SPI_finish();
	if (shops)
		*shops = out;
	return n;
}

/*
 * The entry check of every API call on a shop: 42501 unless the caller
 * may use shop_id.  When row-level security is off, or does not apply to
 * the caller, it costs three syscache lookups; when it applies, one
 * statement on shop_access's key, once per transaction and shop.
 */
void
om_rls_check_shop(int64 shop_id)
{
	Oid			me = GetOuterUserId();
	int64		setting;

	if (!om_rls_restricts(me))
		return;
	if (ShopSetting(&setting) && setting != shop_id)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for shop " INT64_FORMAT, shop_id),
				 errdetail("Row-level security is on and this session's order_mgmt.shop_id is " INT64_FORMAT ".",
						   setting),
				 errhint("Set order_mgmt.shop_id to the shop to act for, or reset it.")));
	if (let_in.lxid == OM_MY_LXID() && let_in.role == me && let_in.shop_id == shop_id)
		return;
	if (AllowedShops(me, shop_id, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for shop " INT64_FORMAT, shop_id),
				 errdetail("Row-level security is on and role \"%s\" is not mapped to shop " INT64_FORMAT " in order_mgmt.shop_access.",
						   GetUserNameFromId(me, false), shop_id),
				 errhint("A role that bypasses row-level security maps it with order_mgmt.grant_shop_access().")));
	let_in.lxid = OM_MY_LXID();
	let_in.role = me;
	let_in.shop_id = shop_id;
}

/*
 * For a call over every shop (run_due(), verify(NULL)): 42501 when the
 * caller is restricted, or false, as filter says; true when it is not.
 */
bool
om_rls_check_all_shops(const char *what, bool filter)
{
	Oid			me = GetOuterUserId();

	if (!om_rls_restricts(me))
		return true;
	if (!filter)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for %s over every shop", what),
				 errdetail("Row-level security is on and role \"%s\" is restricted to the shops order_mgmt.shop_access maps it to.",
						   GetUserNameFromId(me, false)),
				 errhint("Call it for one shop, or as a role that bypasses row-level security.")));
	return false;
}

/* The shops the caller may use (om_rls_check_all_shops() said false). */
int
om_rls_my_shops(int64 **shops)
{
	return AllowedShops(GetOuterUserId(), 0, shops);
}

/* Superuser, or a member of order_mgmt_admin: 42501 otherwise. */
static void
RequireAdmin(const char *what, bool unrestricted)
{
	Oid			me = GetOuterUserId();
	Oid			admin = get_role_oid("order_mgmt_admin", true);

	if (!superuser_arg(me) && !(OidIsValid(admin) && has_privs_of_role(me, admin)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s", what),
				 errdetail("Only a superuser or a member of order_mgmt_admin may."),
				 errhint("Ask a database administrator.")));
	if (unrestricted && om_rls_restricts(me))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s", what),
				 errdetail("Row-level security is on and applies to role \"%s\": a role restricted to its shops cannot change the fence.",
						   GetUserNameFromId(me, false)),
				 errhint("Run it as a superuser or a role with BYPASSRLS.")));
}

/*
 * Row-level security by shop on or off: the policy and ENABLE/DISABLE on
 * every table of the schema with a shop_id column where they differ from
 * on, and every view reading as its caller (on) or its owner (off).
 * Returns the number of shop tables.  The catalog is read with a new
 * snapshot, so a second call in one statement sees the first's work.
 */
static int
SetRowSecurity(bool on)
{
	static SPIPlanPtr plan = NULL;
	static const char *policy =
		"shop_id = ANY ((SELECT order_mgmt.rls_shops())::bigint[])";
	int			ntables = 0;
	uint64		n;
	uint64		i;
	char	  **names;
	char	   *kinds;
	bool	   *secured;
	bool	   *has_policy;

	om_exec(om_plan(&plan,
					"SELECT c.relname::text, c.relkind = 'v', c.relrowsecurity,"
					" EXISTS (SELECT FROM pg_catalog.pg_policy p"
					"         WHERE p.polrelid = c.oid AND p.polname = 'shop_isolation')"
					" FROM pg_catalog.pg_class c"
					" WHERE c.relnamespace = 'order_mgmt'::pg_catalog.regnamespace"
					"   AND (c.relkind = 'v' OR (c.relkind = 'r' AND EXISTS ("
					"        SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid"
					"        AND a.attname = 'shop_id' AND NOT a.attisdropped)))"
					" ORDER BY c.relname",
					0, NULL), NULL, NULL, false, 0);
	n = SPI_processed;
	names = palloc(sizeof(char *) * (n + 1));
	kinds = palloc(n + 1);
	secured = palloc(sizeof(bool) * (n + 1));
	has_policy = palloc(sizeof(bool) * (n + 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;

		names[i] = TextDatumGetCString(SPI_getbinval(t, d, 1, &isnull));
		kinds[i] = DatumGetBool(SPI_getbinval(t, d, 2, &isnull)) ? 'v' : 'r';
		secured[i] = DatumGetBool(SPI_getbinval(t, d, 3, &isnull));
		has_policy[i] = DatumGetBool(SPI_getbinval(t, d, 4, &isnull));
	}
	for (i = 0; i < n; i++)
	{
		const char *rel = quote_qualified_identifier("order_mgmt", names[i]);
		StringInfoData sql;

		initStringInfo(&sql);
		if (kinds[i] == 'v')
		{
			/* a view reads as its owner unless it is security_invoker */
			appendStringInfo(&sql, on ? "ALTER VIEW %s SET (security_invoker = true)"
							 : "ALTER VIEW %s RESET (security_invoker)", rel);
			if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "SPI_execute failed: %s", sql.data);
			continue;
		}
		ntables++;
		if (on && !has_policy[i])
			appendStringInfo(&sql, "CREATE POLICY shop_isolation ON %s USING (%s) WITH CHECK (%s);",
							 rel, policy, policy);
		if (!on && has_policy[i])
			appendStringInfo(&sql, "DROP POLICY shop_isolation ON %s;", rel);
		if (on != secured[i])
			appendStringInfo(&sql, "ALTER TABLE %s %s ROW LEVEL SECURITY;", rel,
							 on ? "ENABLE" : "DISABLE");
		if (sql.len > 0 && SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "SPI_execute failed: %s", sql.data);
	}
	return ntables;
}

/*
 * enable_rls(): a policy on every shop table, row-level security on;
 * returns how many tables it covers.  Idempotent.  A superuser or an
 * order_mgmt_admin; refused on Citus.
 */
PG_FUNCTION_INFO_V1(om_enable_rls);
Datum
om_enable_rls(PG_FUNCTION_ARGS)
{
	int			n;

	RequireAdmin("enable row-level security", false);
	if (om_on_citus())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot enable row-level security on Citus"),
				 errdetail("Citus refuses a subquery in a policy on a distributed table, and the shop mapping would have to be read on the workers."),
				 errhint("Give each shop's application its own role and rely on the API's grants; see docs/citus.md.")));
#if !OM_HAS_SECURITY_INVOKER_VIEWS
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot enable row-level security before PostgreSQL 15"),
			 errdetail("The views must read as their caller (security_invoker), which PostgreSQL 15 brought.")));
#endif
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	n = SetRowSecurity(true);
	SPI_finish();
	PG_RETURN_INT32(n);
}

/*
 * disable_rls(): the policies dropped, row-level security off; returns how
 * many tables.  Idempotent.  Only a caller it does not restrict.
 */
PG_FUNCTION_INFO_V1(om_disable_rls);
Datum
om_disable_rls(PG_FUNCTION_ARGS)
{
	int			n;

	RequireAdmin("disable row-level security", true);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	n = SetRowSecurity(false);
	SPI_finish();
	PG_RETURN_INT32(n);
}

/*
 * rls_shops(): the shops the calling role may see, for the policies (the
 * subquery makes it one call per statement).
 */
PG_FUNCTION_INFO_V1(om_rls_shops);
Datum
om_rls_shops(PG_FUNCTION_ARGS)
{
	int64	   *shops;
	int			n = om_rls_my_shops(&shops);
	Datum	   *elems = palloc(sizeof(Datum) * (n + 1));
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = Int64GetDatum(shops[i]);
	PG_RETURN_DATUM(om_int8_array(elems, n));
}

/*
 * check_shop_access(shop_id): om_rls_check_shop() for the PL/pgSQL
 * reports.  NULL passes: the report then finds no such shop (OM014).
 */
PG_FUNCTION_INFO_V1(om_check_shop_access);
Datum
om_check_shop_access(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(0))
		om_rls_check_shop(PG_GETARG_INT64(0));
	PG_RETURN_VOID();
}

/*
 * grant_shop_access(shop_id, role_name) / revoke_shop_access(): map a role
 * to a shop, or unmap it; true if that changed the mapping.  A superuser
 * or an order_mgmt_admin that row-level security does not restrict.
 */
static bool
ChangeAccess(FunctionCallInfo fcinfo, bool grant)
{
	static SPIPlanPtr grant_plan = NULL;
	static SPIPlanPtr revoke_plan = NULL;
	static const Oid argtypes[] = {INT8OID, NAMEOID};
	Datum		values[2];
	bool		changed;

	RequireAdmin(grant ? "grant shop access" : "revoke shop access", true);
	OM_ARG_NOT_NULL(0, "shop_id");
	OM_ARG_NOT_NULL(1, "role_name");
	if (grant)
		(void) get_role_oid(NameStr(*PG_GETARG_NAME(1)), false);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (grant)
		om_exec(om_plan(&grant_plan,
						"INSERT INTO order_mgmt.shop_access (shop_id, role_name) VALUES ($1, $2)"
						" ON CONFLICT DO NOTHING",
						2, argtypes), values, NULL, false, 0);
	else
		om_exec(om_plan(&revoke_plan,
						"DELETE FROM order_mgmt.shop_access WHERE shop_id = $1 AND role_name = $2",
						2, argtypes), values, NULL, false, 0);
	changed = SPI_processed > 0;
	SPI_finish();
	let_in.lxid = InvalidLocalTransactionId;
	return changed;
}

PG_FUNCTION_INFO_V1(om_grant_shop_access);
Datum
om_grant_shop_access(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ChangeAccess(fcinfo, true));
}

PG_FUNCTION_INFO_V1(om_revoke_shop_access);
Datum
om_revoke_shop_access(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ChangeAccess(fcinfo, false));
}
