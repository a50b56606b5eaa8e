/*-------------------------------------------------------------------------
 *
 * events.c
 *	  The append-only event log order_mgmt.order_event (SPEC §12).
 *
 * Events are written through one kept plan, inside the caller's SPI
 * connection, so they commit or roll back with the change they record.
 * The actor is the calling role as the caller sees it: the SET ROLE role,
 * else the session user, even inside SECURITY DEFINER functions (that is
 * GetOuterUserId(), which SECURITY DEFINER does not change), or "system"
 * while the sweeper acts.
 *
 *-------------------------------------------------------------------------
 */
#include "order_mgmt.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"

/* Set while the sweeper acts, so its events say "system". */
bool		om_acting_as_system = false;

const char *
om_actor(void)
{
	if (om_acting_as_system)
		return "system";
	return GetUserNameFromId(GetOuterUserId(), false);
}

/*
 * Append one event.  Must be called inside an SPI connection.  from_value,
 * to_value and detail_json may be NULL.
 */
void
om_event_write(int64 shop_id, int64 order_id, const char *kind,
			   const char *from_value, const char *to_value,
			   const char *detail_json)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	om_plan(&plan,
			"INSERT INTO order_mgmt.order_event"
			" (shop_id, order_id, at, actor, kind, from_value, to_value, detail)"
			" VALUES ($1, $2, $3, $4, $5::order_mgmt.event_kind, $6, $7, $8::pg_catalog.jsonb)",
			8, argtypes);

	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(om_now());
	values[3] = CStringGetTextDatum(om_actor());
	values[4] = CStringGetTextDatum(kind);
	if (from_value)
		values[5] = CStringGetTextDatum(from_value);
	else
		nulls[5] = 'n';
	if (to_value)
		values[6] = CStringGetTextDatum(to_value);
	else
		nulls[6] = 'n';
	if (detail_json)
		values[7] = CStringGetTextDatum(detail_json);
	else
		nulls[7] = 'n';

	if (om_exec(plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not append order event");
}
