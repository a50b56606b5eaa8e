/*-------------------------------------------------------------------------
 *
 * spi_plans.c
 *	  Prepared SPI plans, kept for the life of the backend.
 *
 * Each concern file keeps its plans in static SPIPlanPtr slots and fetches
 * them with om_plan(), which prepares and keeps the plan on first use.
 * Kept plans are revalidated by the plan cache when the tables they use
 * change, so a slot never needs resetting.  Every statement is fully
 * schema-qualified and takes its values as parameters.
 *
 * Plans are generic (CURSOR_OPT_GENERIC_PLAN): planned once, not per call.
 * Left to choose, the plan cache keeps re-planning statements whose
 * generic cost it guesses above a custom plan's (an array parameter, an
 * EXISTS), which cost checkout a fifth of its time.  Every statement here
 * is a short OLTP statement on keys, where a generic plan is as good.
 *
 * Except on Citus (docs/citus.md), where plans are custom plans, planned
 * on every execution with the values bound.  Citus makes a usable generic
 * plan only of a single table's "WHERE shop_id = $1" (its fast path) and of
 * INSERT ... VALUES; other statements with parameters fail with "could not
 * create distributed plan".  And Citus 13.2.2 keeps a copy of the local
 * shard plan on every execution of a generic fast-path plan run on a local
 * shard (citusdata/citus#8824), about 30 kB a statement: a backend would
 * grow without bound (test/citus/memory.sql).  Custom plans cost no more
 * there, as that cache misses anyway.  The statements of the hot path that
 * Citus would plan through its slower paths (a join, INSERT ... SELECT, a
 * data-modifying CTE feeding another one) are run as single-table
 * statements on Citus (om_on_citus()).  Whether Citus is present is read
 * once per backend: a session that used order_mgmt before
 * order_mgmt.distribute() ran must reconnect.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "clock.h"
#include "context.h"
#include "spi_util.h"

/*
 * Whether the citus extension is in this database; read on the first call
 * in a backend and kept (the backend's plans were prepared for it).
 */
bool
om_on_citus(void)
{
	static int	on_citus = -1;

	if (on_citus < 0)
		on_citus = OidIsValid(get_extension_oid("citus", true)) ? 1 : 0;
	return on_citus == 1;
}

/*
 * The plan kept in *slot, prepared on first use.  A parameter may be of
 * one of the extension's enum types (om_type_oid(), given as a value with
 * om_enum_param()) rather than text cast in the statement: Citus refuses
 * the enum's STABLE input function inside CASE or COALESCE in an UPDATE.
 * A kept plan's parameter types are not revalidated, so when a type was
 * made anew (the extension re-created) the plan is prepared again.
 */
static SPIPlanPtr Prepare(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *argtypes,
						  int options);

SPIPlanPtr
om_plan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *argtypes)
{
	return Prepare(slot, sql, nargs, argtypes,
				   om_on_citus() ? CURSOR_OPT_CUSTOM_PLAN : CURSOR_OPT_GENERIC_PLAN);
}

/*
 * As om_plan(), but planned again on every execution, with the values
 * bound and the tables' current sizes: for a statement run once per batch
 * over a table whose size swings within seconds (run_due()'s batch
 * statements on due_action, which a mass expiry fills from empty with
 * auto-cancels: a generic plan made while it was small joined the batch's
 * keys to all of it, 0.8 s a batch of 1,000 at 20,000 rows).  Planning
 * costs a fraction of a millisecond, once per batch.
 */
SPIPlanPtr
om_plan_custom(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *argtypes)
{
	return Prepare(slot, sql, nargs, argtypes, CURSOR_OPT_CUSTOM_PLAN);
}

static SPIPlanPtr
Prepare(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *argtypes, int options)
{
	SPIPlanPtr	plan;
	int			i;

	if (*slot != NULL)
	{
		for (i = 0; i < nargs; i++)
			if (SPI_getargtypeid(*slot, i) != argtypes[i])
				break;
		if (i == nargs)
			return *slot;
		SPI_freeplan(*slot);
		*slot = NULL;
	}

	plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes, options);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s: %s",
			 SPI_result_code_string(SPI_result), sql);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed: %s", sql);
	*slot = plan;
	return plan;
}

int
om_exec(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only,
		long count)
{
	int			rc = SPI_execute_plan(plan, values, nulls, read_only, count);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return rc;
}

/*
 * Run fn(arg) in a subtransaction.  Returns true if it succeeded.  If it
 * raised an error whose SQLSTATE is one of codes (ncodes of them; ncodes <
 * 0 means any error but a query cancel), the subtransaction is rolled
 * back, the error is returned in *error (if given) and false returned.
 * Any other error is re-thrown, after the subtransaction is rolled back,
 * so the caller's transaction stays in a sane state.  The caller's SPI
 * connection stays usable either way.
 */
bool
om_try(void (*fn) (void *), void *arg, const int *codes, int ncodes, ErrorData **error)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		bool		caught;
		int			i;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		caught = ncodes < 0 && edata->sqlerrcode != ERRCODE_QUERY_CANCELED &&
			edata->sqlerrcode != ERRCODE_ADMIN_SHUTDOWN;
		for (i = 0; i < ncodes; i++)
			if (edata->sqlerrcode == codes[i])
				caught = true;
		if (!caught)
			ReThrowError(edata);
		if (error)
			*error = edata;
		else
			FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * om_exec() for an API function's UPDATE of an order row.  It runs one
 * api_depth deeper in the acting context: the guard then lets it change
 * the columns only the API may change (money, deadlines, the promo code),
 * which it keeps consistent.  Errors raised by the guard and effects
 * triggers are our own, complete messages, so the "SQL statement" context
 * SPI adds to them is dropped.
 */
int
om_exec_quiet(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only,
			  long count)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile int rc = 0;
	OmAct		saved;

	om_act_push(&saved)->api_depth++;
	PG_TRY();
	{
		rc = om_exec(plan, values, nulls, read_only, count);
		om_act_pop(&saved);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		om_act_pop(&saved);
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->context = NULL;
		ReThrowError(edata);
	}
	PG_END_TRY();
	return rc;
}

/*
 * Run the kept statement sql with parameters ($1 shop_id bigint, $2 key
 * text), as om_exec(): the shape of the per-SKU (or per-code) reads and
 * locks.  Returns SPI_processed.
 */
uint64
om_exec_for_key(SPIPlanPtr *slot, const char *sql, int64 shop_id, const char *key,
				bool read_only, long count)
{
	static const Oid argtypes[] = {INT8OID, TEXTOID};
	Datum		values[2];

	om_plan(slot, sql, 2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = CStringGetTextDatum(key);
	om_exec(*slot, values, NULL, read_only, count);
	return SPI_processed;
}

/*
 * Does the kept query sql, with parameters (shop_id bigint, key text),
 * return a row?  For the many "does this shop have that ..." checks.
 */
bool
om_exists(SPIPlanPtr *slot, const char *sql, int64 shop_id, const char *key)
{
	return om_exec_for_key(slot, sql, shop_id, key, true, 1) > 0;
}

/*
 * A text value that outlives SPI_finish: strings built inside an SPI
 * connection live in its memory, which SPI_finish frees.
 */
text *
om_spi_text(const char *s)
{
	size_t		len = strlen(s);
	text	   *t = SPI_palloc(VARHDRSZ + len);

	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), s, len);
	return t;
}

/*
 * Run the kept statement sql with parameters ($1 shop_id, $2 order_id,
 * $3 order_mgmt.now()): the shape of most per-order side effects.
 * Returns SPI_processed.
 */
uint64
om_exec_for_order(SPIPlanPtr *slot, const char *sql, int64 shop_id, int64 order_id)
{
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		values[3];

	om_plan(slot, sql, 3, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(om_now());
	om_exec(*slot, values, NULL, false, 0);
	return SPI_processed;
}

/*
 * One-dimensional array parameters ($n::int8[], text[], int4[]) from
 * Datums, for the statements that take a whole set of rows at once.
 */
Datum
om_int8_array(Datum *elems, int n)
{
	return PointerGetDatum(construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

Datum
om_int4_array(Datum *elems, int n)
{
	return PointerGetDatum(construct_array(elems, n, INT4OID, 4, true, TYPALIGN_INT));
}

Datum
om_text_array(Datum *elems, int n)
{
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* A text parameter from a C string, or a NULL one (nulls[n] = 'n') for NULL. */
void
om_text_param(Datum *values, char *nulls, int n, const char *s)
{
	if (s)
	{
		values[n] = CStringGetTextDatum(s);
		nulls[n] = ' ';
	}
	else
	{
		values[n] = (Datum) 0;
		nulls[n] = 'n';
	}
}

/*
 * The type order_mgmt.<name> (an enum, for a parameter of that type).
 */
Oid
om_type_oid(const char *name)
{
	Oid			nsp = get_namespace_oid("order_mgmt", false);
	Oid			typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum(name), ObjectIdGetDatum(nsp));

	if (!OidIsValid(typid))
		elog(ERROR, "type order_mgmt.%s does not exist", name);
	return typid;
}

/*
 * Parameter n of plan, of an enum type, from its label s (NULL: null),
 * as om_text_param() for text.  An unknown label raises 22P02 as a cast
 * in the statement would.
 */
void
om_enum_param(SPIPlanPtr plan, Datum *values, char *nulls, int n, const char *s)
{
	if (s)
	{
		values[n] = DirectFunctionCall2(enum_in, CStringGetDatum(s),
										ObjectIdGetDatum(SPI_getargtypeid(plan, n)));
		nulls[n] = ' ';
	}
	else
	{
		values[n] = (Datum) 0;
		nulls[n] = 'n';
	}
}

/*
 * Whether order_mgmt.<table> has <column>: the library also serves a
 * schema of an older release until ALTER EXTENSION order_mgmt UPDATE has
 * run, so code that needs a column added since asks first (syscache).
 */
bool
om_has_column(const char *table, const char *column)
{
	Oid			nsp = get_namespace_oid("order_mgmt", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid(table, nsp) : InvalidOid;

	return OidIsValid(rel) && get_attnum(rel, column) != InvalidAttrNumber;
}

/*
 * Whether order_mgmt has a relation (table or index) called name: the same
 * question as om_has_column() for a release that added an index.
 */
bool
om_has_relation(const char *name)
{
	Oid			nsp = get_namespace_oid("order_mgmt", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid(name, nsp));
}

/* Raise 55000 unless the schema has column (added by a later release). */
void
om_require_column(const char *table, const char *column, const char *feature)
{
	if (!om_has_column(table, column))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s needs the schema of order_mgmt 0.2.0", feature),
				 errdetail("order_mgmt.%s has no column %s: the library was updated, the extension not yet.",
						   table, column),
				 errhint("Run ALTER EXTENSION order_mgmt UPDATE.")));
}
