/*-------------------------------------------------------------------------
 *
 * spi_util.h
 *	  Prepared, kept SPI plans and the helpers around them (spi_plans.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_SPI_UTIL_H
#define OM_SPI_UTIL_H

#include "executor/spi.h"

extern bool om_on_citus(void);
extern SPIPlanPtr om_plan(SPIPlanPtr *slot, const char *sql, int nargs,
						  const Oid *argtypes);
extern SPIPlanPtr om_plan_custom(SPIPlanPtr *slot, const char *sql, int nargs,
								 const Oid *argtypes);
extern int	om_exec(SPIPlanPtr plan, Datum *values, const char *nulls,
					bool read_only, long count);
extern int	om_exec_quiet(SPIPlanPtr plan, Datum *values, const char *nulls,
						  bool read_only, long count);
extern uint64 om_exec_for_order(SPIPlanPtr *slot, const char *sql, int64 shop_id,
								 int64 order_id);
extern uint64 om_exec_for_key(SPIPlanPtr *slot, const char *sql, int64 shop_id,
							   const char *key, bool read_only, long count);
extern bool om_exists(SPIPlanPtr *slot, const char *sql, int64 shop_id, const char *key);
extern bool om_try(void (*fn) (void *), void *arg, const int *codes, int ncodes,
				   ErrorData **error);
extern text *om_spi_text(const char *s);
extern bool om_has_column(const char *table, const char *column);
extern bool om_has_relation(const char *name);
extern void om_require_column(const char *table, const char *column, const char *feature);

/* parameters */
extern Datum om_int8_array(Datum *elems, int n);
extern Datum om_int4_array(Datum *elems, int n);
extern Datum om_text_array(Datum *elems, int n);
extern void om_text_param(Datum *values, char *nulls, int n, const char *s);
extern void om_enum_param(SPIPlanPtr plan, Datum *values, char *nulls, int n,
						  const char *s);
extern Oid	om_type_oid(const char *name);

#endif							/* OM_SPI_UTIL_H */
