/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every PG_VERSION_NUM shim lives here (README "Supported PostgreSQL versions":
 *	  13-18; test/pg_versions.sh builds and tests each).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_COMPAT_H
#define OM_COMPAT_H

#include "utils/datetime.h"

/*
 * A function that does not return: pg_noreturn, before the declaration,
 * from PostgreSQL 18 (C11 _Noreturn), which dropped the trailing
 * pg_attribute_noreturn() of earlier versions.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/* DecodeDateTime grew a DateTimeErrorExtra argument in PostgreSQL 16. */
#if PG_VERSION_NUM >= 160000
#define OM_DECODE_DATETIME(field, ftype, nf, dtype, tm, fsec, tzp) \
	DecodeDateTime((field), (ftype), (nf), (dtype), (tm), (fsec), (tzp), &(DateTimeErrorExtra){0})
#else
#define OM_DECODE_DATETIME(field, ftype, nf, dtype, tm, fsec, tzp) \
	DecodeDateTime((field), (ftype), (nf), (dtype), (tm), (fsec), (tzp))
#endif

/* MarkGUCPrefixReserved appeared in PostgreSQL 15; before it had another name. */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif



/*
 * GUC "extra" data must come from the GUC allocator, which frees it with
 * free(): guc_malloc() from PostgreSQL 16, plain malloc() before it (the
 * one place order_mgmt calls malloc, as guc.c requires).
 */
#if PG_VERSION_NUM >= 160000
#define OM_GUC_MALLOC(size) guc_malloc(LOG, (size))
#else
#define OM_GUC_MALLOC(size) malloc(size)
#endif

/* strtoi64 appeared in c.h in PostgreSQL 14. */
#ifndef strtoi64
#define strtoi64(str, endptr, base) ((int64) strtoll((str), (endptr), (base)))
#endif

/*
 * The newest event transaction of shop $1 (outbox.c).  max(xid8) appeared
 * in PostgreSQL 15; before it, the form the planner makes of max() on the
 * order_event_outbox index.
 */
#if PG_VERSION_NUM >= 150000
#define OM_SHOP_MAX_EVENT_XID_SQL \
	"(SELECT max(e.xid) FROM order_mgmt.order_event e WHERE e.shop_id = $1)"
#else
#define OM_SHOP_MAX_EVENT_XID_SQL \
	"(SELECT e.xid FROM order_mgmt.order_event e WHERE e.shop_id = $1" \
	" AND e.xid IS NOT NULL ORDER BY e.xid DESC LIMIT 1)"
#endif

/* This backend's local transaction id: PGPROC.lxid moved into vxid in PostgreSQL 17. */
#if PG_VERSION_NUM >= 170000
#define OM_MY_LXID() (MyProc->vxid.lxid)
#else
#define OM_MY_LXID() (MyProc->lxid)
#endif

/* This backend's number among the live ones (1 and up): MyBackendId was renamed MyProcNumber (from 0) in PostgreSQL 17. */
#if PG_VERSION_NUM >= 170000
#define OM_MY_BACKEND_NUMBER() ((int) MyProcNumber + 1)
#else
#define OM_MY_BACKEND_NUMBER() ((int) MyBackendId)
#endif

/* pg_prng appeared in PostgreSQL 15. */
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#define OM_RANDOM_UINT32() pg_prng_uint32(&pg_global_prng_state)
#else
#define OM_RANDOM_UINT32() ((uint32) random())
#endif

/* numeric infinities appeared in PostgreSQL 14. */
#include "utils/numeric.h"
#if PG_VERSION_NUM >= 140000
#define OM_NUMERIC_IS_FINITE(n) (!numeric_is_nan(n) && !numeric_is_inf(n))
#else
#define OM_NUMERIC_IS_FINITE(n) (!numeric_is_nan(n))
#endif

/*
 * InitMaterializedSRF() (PostgreSQL 15; SetSingleFuncCall in 15.0): a
 * set-returning function's tuplestore and tuple descriptor in
 * rsinfo->setResult / setDesc.  Before 15, the boilerplate it replaced.
 */
#if PG_VERSION_NUM < 150000
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/tuplestore.h"

#define MAT_SRF_USE_EXPECTED_DESC	0x01
#define MAT_SRF_BLESS				0x02

static inline void
InitMaterializedSRF(FunctionCallInfo fcinfo, bits32 flags)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcontext;
	TupleDesc	tupdesc;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (!(rsinfo->allowedModes & SFRM_Materialize) ||
		((flags & MAT_SRF_USE_EXPECTED_DESC) && rsinfo->expectedDesc == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));
	oldcontext = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (flags & MAT_SRF_USE_EXPECTED_DESC)
		tupdesc = CreateTupleDescCopy(rsinfo->expectedDesc);
	else if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (flags & MAT_SRF_BLESS)
		BlessTupleDesc(tupdesc);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
											  false, work_mem);
	rsinfo->setDesc = tupdesc;
	MemoryContextSwitchTo(oldcontext);
}
#endif

/* views that read as their caller (security_invoker): row-level security by shop */
#define OM_HAS_SECURITY_INVOKER_VIEWS (PG_VERSION_NUM >= 150000)

#endif							/* OM_COMPAT_H */
