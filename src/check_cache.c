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
 * TABLE, DROP, or a relcache reset), so it never outlives the constraints
 * it was made from.  Other schemas' tables are noted as such and left to
 * PostgreSQL.  Result relations made during execution (partition routing,
 * trigger targets) are left to PostgreSQL too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
static ExecutorStart_hook_type prev_executor_start = NULL;

static void CheckCacheExecutorStart(QueryDesc *qd, int eflags);
static void PrepareChecks(ResultRelInfo *rri, EState *estate);
static CheckEntry *LookupChecks(Relation rel);
static void ForgetEntry(CheckEntry *e);
static void InvalidateChecks(Datum arg, Oid relid);

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
	MemoryContext old;
	int			i;

	if (constr == NULL || constr->num_check == 0 || rri->ri_ConstraintExprs != NULL ||
		rel->rd_rel->relkind != RELKIND_RELATION)
		return;
	e = LookupChecks(rel);
	if (!e->ours)
		return;
	old = MemoryContextSwitchTo(estate->es_query_cxt);
	rri->ri_ConstraintExprs = (ExprState **) palloc(e->ncheck * sizeof(ExprState *));
	for (i = 0; i < e->ncheck; i++)
		rri->ri_ConstraintExprs[i] = ExecInitExpr(e->exprs[i], NULL);
	MemoryContextSwitchTo(old);
}

/*
 * rel's entry, made (parsed and planned) if it has none or if its checks
 * are no longer the ones the entry was made from.
 */
static CheckEntry *
LookupChecks(Relation rel)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	Oid			relid = RelationGetRelid(rel);
	CheckEntry *e;
	bool		found;
	char	   *nspname;
	MemoryContext old;
	int			i;

	if (checks == NULL)
	{
		HASHCTL		ctl;

		check_cxt = AllocSetContextCreate(CacheMemoryContext, "order_mgmt check constraints",
										  ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CheckEntry);
		ctl.hcxt = check_cxt;
		checks = hash_create("order_mgmt checks by relation", 32, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	e = hash_search(checks, &relid, HASH_ENTER, &found);
	if (found && e->check == constr->check && e->ncheck == constr->num_check)
		return e;
	if (found)
		ForgetEntry(e);

	/* not usable until complete: an error below leaves a foreign entry */
	e->ours = false;
	e->cxt = NULL;
	e->check = constr->check;
	e->ncheck = constr->num_check;
	e->exprs = NULL;
	nspname = get_namespace_name(RelationGetNamespace(rel));
	if (nspname == NULL || strcmp(nspname, "order_mgmt") != 0)
		return e;

	e->cxt = AllocSetContextCreate(check_cxt, "order_mgmt checks of a table", ALLOCSET_SMALL_SIZES);
	MemoryContextCopyAndSetIdentifier(e->cxt, RelationGetRelationName(rel));
	old = MemoryContextSwitchTo(e->cxt);
	e->exprs = palloc(e->ncheck * sizeof(Expr *));
	for (i = 0; i < e->ncheck; i++)
		e->exprs[i] = expression_planner((Expr *) stringToNode(constr->check[i].ccbin));
	MemoryContextSwitchTo(old);
	e->ours = true;
	return e;
}

/* Free what e holds (not the hash entry itself). */
static void
ForgetEntry(CheckEntry *e)
{
	if (e->cxt)
		MemoryContextDelete(e->cxt);
	e->cxt = NULL;
	e->exprs = NULL;
	e->ours = false;
	e->check = NULL;
	e->ncheck = 0;
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
