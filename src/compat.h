/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every PG_VERSION_NUM shim lives here (SPEC §18: PostgreSQL 13-17).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_COMPAT_H
#define OM_COMPAT_H

#include "utils/datetime.h"

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

/* views that read as their caller (security_invoker): row-level security by shop */
#define OM_HAS_SECURITY_INVOKER_VIEWS (PG_VERSION_NUM >= 150000)

#endif							/* OM_COMPAT_H */
