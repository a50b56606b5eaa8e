/*-------------------------------------------------------------------------
 *
 * verify.c
 *	  order_mgmt.verify(shop_id): the invariant checks of SPEC §18.
 *
 * The checks themselves are SQL, in order_mgmt.check_invariants()
 * (src/sql/60_verify.sql), where a DBA can read them.  This entry point
 * exists because verify's contract names both an argument and a result
 * column shop_id, which PL/pgSQL cannot declare; it copies the rows of
 * check_invariants into the caller's tuplestore.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"

#include "compat.h"
#include "spi_util.h"

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
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, rownulls);
	}
	SPI_finish();
	return (Datum) 0;
}
