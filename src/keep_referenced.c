/*-------------------------------------------------------------------------
 *
 * keep_referenced.c
 *	  keep_referenced(parent): the parent side of the foreign keys issue 21
 *	  dropped from the write path.
 *
 * A foreign key costs every INSERT of a child row an SPI query and a row
 * lock (FOR KEY SHARE) on the parent: a lock record in the WAL, and on a
 * row every checkout shares (the shop, a campaign's promo code) a
 * MultiXact.  The child side needs no check: only order_mgmt's functions
 * write these rows (no role but the owner may INSERT them), always for an
 * order they locked or just inserted, a SKU and a code they have just
 * read.  What a foreign key also gave is that the parent cannot go while
 * children refer to it; this trigger keeps that, at no cost to the
 * writes:
 *
 *	sku         while order lines refer to it (order_line.sku)
 *	shop        while it has orders
 *	promo_code  while redemptions or per-customer counters refer to it
 *	customer    while orders refer to it (orders.customer_id; checkout reads
 *	            the customer FOR SHARE, and only order_mgmt's functions may
 *	            set the column, order_guard.c)
 *
 * BEFORE DELETE OR UPDATE OF the key, per row: refuses (23503, as the
 * foreign key did) when a child row has the old key.  BEFORE TRUNCATE:
 * refuses when the child table has any row (a TRUNCATE names no key).
 * Orders themselves are never deleted (forbid_change, order_guard.c) and
 * never change their key (CheckKeysKept), which is what the dropped keys
 * to orders relied on.  verify() finds orphans whatever made them
 * (check_invariants' orphan_* checks).
 *
 * The parent is named by the trigger's argument, not the relation: on
 * Citus the trigger fires on shards (sku_102008).  There the TRUNCATE
 * check is skipped: a query over every shard cannot run from a shard.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/rel.h"

#include "compat.h"
#include "spi_util.h"

typedef struct KeptRef
{
	const char *parent;			/* the trigger's argument */
	const char *child;			/* the referring table */
	const char *what;			/* its rows, for the message */
	int			nkeys;			/* key columns: shop_id, then a text */
	const char *keys[2];
	const char *key_sql;		/* a child row of the key? */
	const char *any_sql;		/* any child row at all? */
	SPIPlanPtr	key_plan;
	SPIPlanPtr	any_plan;
} KeptRef;

/* each names the first referring order (the DETAIL is the same every time) */
static KeptRef refs[] = {
	{"sku", "order_line", "order lines", 2, {"shop_id", "sku"},
		"SELECT order_id FROM order_mgmt.order_line WHERE shop_id = $1 AND sku = $2"
		" ORDER BY ordered_at, order_id LIMIT 1",
	"SELECT FROM order_mgmt.order_line LIMIT 1"},
	{"shop", "orders", "orders", 1, {"shop_id", NULL},
		"SELECT order_id FROM order_mgmt.orders WHERE shop_id = $1 ORDER BY order_id LIMIT 1",
	"SELECT FROM order_mgmt.orders LIMIT 1"},
	{"promo_code", "promo_redemption", "redemptions", 2, {"shop_id", "code_key"},
		"SELECT order_id FROM order_mgmt.promo_redemption WHERE shop_id = $1 AND code_key = $2"
		" ORDER BY order_id LIMIT 1",
	"SELECT FROM order_mgmt.promo_redemption LIMIT 1"},
	{"promo_code", "promo_customer_use", "per-customer counters", 2, {"shop_id", "code_key"},
		"SELECT NULL::bigint FROM order_mgmt.promo_customer_use WHERE shop_id = $1 AND code_key = $2 LIMIT 1",
	"SELECT FROM order_mgmt.promo_customer_use LIMIT 1"},
	{"customer", "orders", "orders", 2, {"shop_id", "customer_id"},
		"SELECT order_id FROM order_mgmt.orders WHERE shop_id = $1 AND customer_id = $2"
		" ORDER BY order_id LIMIT 1",
	"SELECT FROM order_mgmt.orders WHERE customer_id IS NOT NULL LIMIT 1"},
};

/* Whether the row's key differs between old and new (an UPDATE of it). */
static bool
KeyChanged(const KeptRef *ref, TriggerData *trigdata)
{
	TupleDesc	td = RelationGetDescr(trigdata->tg_relation);
	int			k;

	for (k = 0; k < ref->nkeys; k++)
	{
		int			attnum = SPI_fnumber(td, ref->keys[k]);
		Form_pg_attribute att = TupleDescAttr(td, attnum - 1);
		bool		oldnull,
					newnull;
		Datum		oldval = heap_getattr(trigdata->tg_trigtuple, attnum, td, &oldnull);
		Datum		newval = heap_getattr(trigdata->tg_newtuple, attnum, td, &newnull);

		if (oldnull != newnull ||
			(!oldnull && !datum_image_eq(oldval, newval, att->attbyval, att->attlen)))
			return true;
	}
	return false;
}

/* Refuses if a row of ref->child has the old row's key. */
static void
CheckRow(KeptRef *ref, TriggerData *trigdata)
{
	static const Oid argtypes[] = {INT8OID, TEXTOID};
	TupleDesc	td = RelationGetDescr(trigdata->tg_relation);
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	bool		isnull;
	int			k;
	char	   *key_text = NULL;
	int64		shop_id;
	bool		found;
	bool		order_null = true;
	int64		order_id = 0;

	for (k = 0; k < ref->nkeys; k++)
	{
		values[k] = heap_getattr(trigdata->tg_trigtuple, SPI_fnumber(td, ref->keys[k]), td, &isnull);
		if (isnull)
			return;				/* a NULL key refers to nothing */
	}
	shop_id = DatumGetInt64(values[0]);

	om_exec(om_plan(&ref->key_plan, ref->key_sql, ref->nkeys, argtypes), values, nulls, true, 1);
	found = SPI_processed > 0;
	if (found)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &order_null);

		order_id = order_null ? 0 : DatumGetInt64(d);
	}
	if (!found)
		return;
	if (ref->nkeys > 1)
		key_text = TextDatumGetCString(values[1]);
	ereport(ERROR,
			(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			 ref->nkeys > 1 ?
			 errmsg("cannot %s %s \"%s\" of shop " INT64_FORMAT ": %s refer to it",
					TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "delete" : "change the key of",
					ref->parent, key_text, shop_id, ref->what) :
			 errmsg("cannot %s shop " INT64_FORMAT ": it has %s",
					TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "delete" : "change the key of",
					shop_id, ref->what),
			 order_null ?
			 errdetail("order_mgmt.%s has rows of shop " INT64_FORMAT " referring to it.",
					   ref->child, shop_id) :
			 errdetail("order_mgmt.%s has rows referring to it, e.g. of order " INT64_FORMAT " of shop " INT64_FORMAT ".",
					   ref->child, order_id, shop_id),
			 errhint("Orders and their history are never deleted; %s",
					 strcmp(ref->parent, "sku") == 0 ?
					 "stop selling the SKU instead (set its stock to 0)." :
					 strcmp(ref->parent, "promo_code") == 0 ?
					 "switch the code off instead (promo_code.active)." :
					 strcmp(ref->parent, "customer") == 0 ?
					 "erase the customer's personal data instead (order_mgmt.erase_customer())." :
					 "a shop with orders stays.")));
}

/* TRUNCATE: refuses if ref->child has any row. */
static void
CheckTruncate(KeptRef *ref)
{
	if (om_on_citus())
		return;
	om_exec(om_plan(&ref->any_plan, ref->any_sql, 0, NULL), NULL, NULL, true, 1);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("cannot truncate order_mgmt.%s: %s refer to it", ref->parent, ref->what),
				 errdetail("order_mgmt.%s has rows, and orders and their history are never deleted.",
						   ref->child)));
}

PG_FUNCTION_INFO_V1(om_keep_referenced);
Datum
om_keep_referenced(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *parent;
	int			i;
	bool		checked = false;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"keep_referenced\" was not called by trigger manager")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) || trigdata->tg_trigger->tgnargs != 1 ||
		TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		(TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event) != !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("keep_referenced must be fired BEFORE DELETE OR UPDATE FOR EACH ROW or BEFORE TRUNCATE, with the parent table's name")));
	parent = trigdata->tg_trigger->tgargs[0];

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		for (i = 0; i < lengthof(refs); i++)
			if (strcmp(refs[i].parent, parent) == 0)
				break;
		if (i == lengthof(refs) || !KeyChanged(&refs[i], trigdata))
			return PointerGetDatum(trigdata->tg_newtuple);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (i = 0; i < lengthof(refs); i++)
	{
		if (strcmp(refs[i].parent, parent) != 0)
			continue;
		checked = true;
		if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
			CheckTruncate(&refs[i]);
		else
			CheckRow(&refs[i], trigdata);
	}
	SPI_finish();
	if (!checked)
		elog(ERROR, "keep_referenced: unknown parent table \"%s\"", parent);

	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		return PointerGetDatum(NULL);
	return PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
						   trigdata->tg_newtuple : trigdata->tg_trigtuple);
}
