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
 *-------------------------------------------------------------------------
 */
#include "order_mgmt.h"

SPIPlanPtr
om_plan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *argtypes)
{
	SPIPlanPtr	plan;

	if (*slot != NULL)
		return *slot;

	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);
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
