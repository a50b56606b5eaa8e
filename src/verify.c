/*-------------------------------------------------------------------------
 *
 * verify.c
 *	  order_mgmt.verify(shop_id): the invariant checks of SPEC §18.
 *
 * The checks themselves are SQL, in order_mgmt.check_invariants()
 * (src/sql/60_verify.sql), where a DBA can read them.  This entry point
 * exists because verify's contract names both an argument and a result
 * column shop_id, which PL/pgSQL cannot declare; it copies the rows of
 * check_invariants into the caller's tuplestore.  With row-level
 * security on, a restricted caller names one of its shops, or gets the
 * rows of its shops only (rls.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"

#include "compat.h"
#include "rls.h"
#include "spi_util.h"

/* Whether a row's shop is one of the caller's (a row of no shop is not). */
static bool
MyShop(Datum shop, bool isnull, const int64 *mine, int nmine)
{
	int			i;

	for (i = 0; !isnull && i < nmine; i++)
		if (mine[i] == DatumGetInt64(shop))
			return true;
	return false;
}

PG_FUNCTION_INFO_V1(om_verify);
Datum
om_verify(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[1];
	char		nulls[1];
	uint64		i;
	int64	   *mine = NULL;
	int			nmine = -1;		/* -1: every shop's rows */

	/* row-level security: one shop checked, or the caller's shops only */
	if (!PG_ARGISNULL(0))
		om_rls_check_shop(PG_GETARG_INT64(0));
	else if (!om_rls_check_all_shops("verify()", true))
		nmine = om_rls_my_shops(&mine);
	InitMaterializedSRF(fcinfo, 0);
	values[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&plan,
			"SELECT check_name, shop_id, detail FROM order_mgmt.check_invariants($1)",
			1, argtypes);
	om_exec(plan, values, nulls, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		row[3];
		bool		rownulls[3];
		int			c;

		/* tuplestore_putvalues copies the values out of SPI's memory */
		for (c = 0; c < 3; c++)
			row[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								   c + 1, &rownulls[c]);
		if (nmine >= 0 && !MyShop(row[1], rownulls[1], mine, nmine))
			continue;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, rownulls);
	}
	SPI_finish();
	return (Datum) 0;
}
