/*-------------------------------------------------------------------------
 *
 * check_cache.c
 *	  The CHECK constraints of order_mgmt's tables, read and planned once
 *	  per backend instead of once per statement (issue 21).
 *
 * PostgreSQL 15 builds a result relation's CHECK constraints anew in every
 * statement that writes a row of it: ExecRelCheck() parses each
 * constraint's stored expression (stringToNode) and plans it
 * (expression_planner) the first time the statement checks a row.  A
 * checkout writes orders (7 checks), order_line (5), stock (3 per line)
 * and reservation (1) in 4-6 statements, and that set-up was 8% of the
 * backend's CPU (perf, docs/performance.md "Checkout"), more than
 * evaluating the checks.
 *
 * An ExecutorStart hook fills in ri_ConstraintExprs, the per-statement
 * array ExecRelCheck() builds only when it finds it NULL, for every result
 * relation of the statement that is a table in the schema order_mgmt: the
 * same ExprStates ExecPrepareExpr() would make, each initialised
 * (ExecInitExpr, in the statement's memory) from an expression parsed and
 * planned once and kept here.  What is checked, in which order, and the
 * error a failing row raises are PostgreSQL's own: only the parse and the
 * planning are not repeated.
 *
 * A kept entry belongs to one relation's list of checks as the relcache
 * has it (the array's address and length are compared on every use) and
 * is dropped by the relcache invalidation of its relation (any ALTER
 * TABLE, DROP, ANALYZE's new statistics, or a relcache reset), so it
 * never outlives the constraints it was made from.  A dropped entry's
 * memory is freed only at the end of the transaction: an invalidation can
 * arrive while a statement runs (when it takes a lock), and that
 * statement's ExprStates point into the entry's expressions (a numeric
 * constant's value, for one).  Other schemas' tables are noted as such
 * and left to PostgreSQL.  Result relations made during execution
 * (partition routing, trigger targets) are left to PostgreSQL too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/executor.h"
#include "optimizer/optimizer.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "check_cache.h"

/* one relation's checks, parsed and planned */
typedef struct CheckEntry
{
	Oid			relid;			/* hash key */
	bool		ours;			/* a table of the schema order_mgmt */
	ConstrCheck *check;			/* the relcache's array they were made from */
	int			ncheck;
	Expr	  **exprs;			/* planned, as ExecPrepareExpr() would */
	MemoryContext cxt;			/* holds exprs; NULL when !ours */
} CheckEntry;

static HTAB *checks = NULL;
static MemoryContext check_cxt = NULL;
static MemoryContext dropped_cxt = NULL;	/* dropped entries, freed at xact end */
static ExecutorStart_hook_type prev_executor_start = NULL;

static void CheckCacheExecutorStart(QueryDesc *qd, int eflags);
static void PrepareChecks(ResultRelInfo *rri, EState *estate);
static CheckEntry *LookupChecks(Relation rel);
static void ForgetEntry(CheckEntry *e);
static void InvalidateChecks(Datum arg, Oid relid);
static void FreeDropped(XactEvent event, void *arg);

/*
 * Install the hook and the relcache callback; from _PG_init, once per
 * backend.
 */
void
om_check_cache_init(void)
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = CheckCacheExecutorStart;
	CacheRegisterRelcacheCallback(InvalidateChecks, (Datum) 0);
	RegisterXactCallback(FreeDropped, NULL);
}

/*
 * ExecutorStart: PostgreSQL's (or the previous hook's), then the kept
 * checks of every result relation it opened.
 */
static void
CheckCacheExecutorStart(QueryDesc *qd, int eflags)
{
	ListCell   *lc;

	if (prev_executor_start)
		prev_executor_start(qd, eflags);
	else
		standard_ExecutorStart(qd, eflags);
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	foreach(lc, qd->estate->es_opened_result_relations)
		PrepareChecks((ResultRelInfo *) lfirst(lc), qd->estate);
}

/*
 * Fill in rri's ri_ConstraintExprs from the kept checks, as ExecRelCheck()
 * would on the first row: an array of ncheck ExprStates in the statement's
 * memory.  Leaves a relation of another schema, one without checks or one
 * whose array is already there to PostgreSQL.
 */
static void
PrepareChecks(ResultRelInfo *rri, EState *estate)
{
	Relation	rel = rri->ri_RelationDesc;
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	CheckEntry *e;
	Expr	  **exprs;
	int			ncheck;
	ExprState **states;
	MemoryContext old;
	int			i;

	if (constr == NULL || constr->num_check == 0 || rri->ri_ConstraintExprs != NULL ||
		rel->rd_rel->relkind != RELKIND_RELATION)
		return;
	e = LookupChecks(rel);
	if (e == NULL)
		return;
	/* ExecInitExpr() may read the catalogs, and so drop the entry: copy */
	exprs = e->exprs;
	ncheck = e->ncheck;
	old = MemoryContextSwitchTo(estate->es_query_cxt);
	states = (ExprState **) palloc(ncheck * sizeof(ExprState *));
	for (i = 0; i < ncheck; i++)
		states[i] = ExecInitExpr(exprs[i], NULL);
	MemoryContextSwitchTo(old);
	rri->ri_ConstraintExprs = states;
}

/*
 * rel's entry, made (parsed and planned) if it has none or if its checks
 * are no longer the ones the entry was made from; NULL when rel is not a
 * table of the schema order_mgmt.
 *
 * Reading the catalogs (the schema's name, the planner's function
 * lookups) may run the invalidation callback, which may rebuild rel's
 * relcache entry and drop hash entries; so the stored expressions are
 * copied out of the relcache before, and the hash entry is made after.
 */
static CheckEntry *
LookupChecks(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	TupleConstr *constr;
	ConstrCheck *check;
	int			ncheck;
	CheckEntry *e;
	bool		found;
	char	   *nspname;
	MemoryContext cxt;
	MemoryContext old;
	Expr	  **exprs;
	int			i;

	if (checks == NULL)
	{
		HASHCTL		ctl;

		check_cxt = AllocSetContextCreate(CacheMemoryContext, "order_mgmt check constraints",
										  ALLOCSET_SMALL_SIZES);
		dropped_cxt = AllocSetContextCreate(check_cxt, "order_mgmt checks dropped",
											ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CheckEntry);
		ctl.hcxt = check_cxt;
		checks = hash_create("order_mgmt checks by relation", 32, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	constr = RelationGetDescr(rel)->constr;
	e = hash_search(checks, &relid, HASH_FIND, NULL);
	if (e && e->check == constr->check && e->ncheck == constr->num_check)
		return e->ours ? e : NULL;
	if (e)
	{
		ForgetEntry(e);
		hash_search(checks, &relid, HASH_REMOVE, NULL);
	}

	nspname = get_namespace_name(RelationGetNamespace(rel));
	/* the relcache entry as it is after that catalog read */
	constr = RelationGetDescr(rel)->constr;
	check = constr->check;
	ncheck = constr->num_check;
	cxt = NULL;
	exprs = NULL;
	if (nspname != NULL && strcmp(nspname, "order_mgmt") == 0)
	{
		/* under dropped_cxt until complete: an error frees it at xact end */
		cxt = AllocSetContextCreate(dropped_cxt, "order_mgmt checks of a table",
									ALLOCSET_SMALL_SIZES);
		MemoryContextCopyAndSetIdentifier(cxt, RelationGetRelationName(rel));
		old = MemoryContextSwitchTo(cxt);
		exprs = palloc(ncheck * sizeof(Expr *));
		/* parsing reads no catalog; planning may */
		for (i = 0; i < ncheck; i++)
			exprs[i] = (Expr *) stringToNode(check[i].ccbin);
		for (i = 0; i < ncheck; i++)
			exprs[i] = expression_planner(exprs[i]);
		MemoryContextSwitchTo(old);
		MemoryContextSetParent(cxt, check_cxt);
	}

	e = hash_search(checks, &relid, HASH_ENTER, &found);
	if (found)
		ForgetEntry(e);
	e->ours = cxt != NULL;
	e->check = check;
	e->ncheck = ncheck;
	e->exprs = exprs;
	e->cxt = cxt;
	return e->ours ? e : NULL;
}

/*
 * Drop what e holds (not the hash entry itself): its memory goes to
 * dropped_cxt, freed at the end of the transaction, as a running
 * statement may still use it.
 */
static void
ForgetEntry(CheckEntry *e)
{
	if (e->cxt)
		MemoryContextSetParent(e->cxt, dropped_cxt);
	e->cxt = NULL;
	e->exprs = NULL;
	e->ours = false;
	e->check = NULL;
	e->ncheck = 0;
}

/*
 * The end of a transaction: no statement of it runs any more, so the
 * entries dropped meanwhile are freed.
 */
static void
FreeDropped(XactEvent event, void *arg)
{
	if (dropped_cxt == NULL)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			MemoryContextReset(dropped_cxt);
			break;
		default:
			break;
	}
}

/*
 * Relcache invalidation of relid (InvalidOid: of every relation): drop
 * its entry, so the next statement reads its checks again.
 */
static void
InvalidateChecks(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	CheckEntry *e;

	if (checks == NULL)
		return;
	if (OidIsValid(relid))
	{
		e = hash_search(checks, &relid, HASH_FIND, NULL);
		if (e)
		{
			ForgetEntry(e);
			hash_search(checks, &relid, HASH_REMOVE, NULL);
		}
		return;
	}
	hash_seq_init(&status, checks);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		ForgetEntry(e);
		hash_search(checks, &e->relid, HASH_REMOVE, NULL);
	}
}
