/*-------------------------------------------------------------------------
 *
 * order_row.c
 *	  Reading and editing order_mgmt.orders rows inside the triggers
 *	  (order_guard.c, order_effects.c): the column numbers, looked up once
 *	  per backend, typed accessors, enum labels, and the pending edits a
 *	  BEFORE trigger makes to the row being written.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "machines.h"
#include "order_row.h"

static OrderCols cols;

static AttrNumber
ColumnNumber(TupleDesc tupdesc, const char *name)
{
	int			attnum = SPI_fnumber(tupdesc, name);

	if (attnum <= 0)
		elog(ERROR, "order_mgmt.orders has no column \"%s\"", name);
	return (AttrNumber) attnum;
}

/* The column numbers, looked up once per backend (and relation). */
const OrderCols *
om_order_cols(Relation rel)
{
	TupleDesc	td = RelationGetDescr(rel);

	if (cols.relid == RelationGetRelid(rel))
		return &cols;
#define COL(name) cols.name = ColumnNumber(td, #name)
	COL(shop_id);
	COL(order_id);
	COL(order_no);
	COL(customer_id);
	COL(email);
	COL(email_key);
	COL(logistics);
	COL(status);
	COL(payment_status);
	COL(delivery_status);
	COL(promo_key);
	COL(hold_until);
	COL(payment_due_at);
	COL(created_at);
	COL(updated_at);
	COL(paid_at);
	COL(shipped_at);
	COL(completed_at);
	COL(cancelled_at);
	COL(cancel_source);
	COL(cancel_reason);
	COL(cancel_note);
	COL(archived_at);
	COL(admin_note);
	COL(shipping_note);
	COL(customer_note);
	COL(consulted_support);
	COL(reactivated_at);
	COL(paid_amount);
	COL(total);
	COL(refunded_amount);
#undef COL
	/* added in 0.2.0: the library also serves a 0.1.0 schema until it is updated */
	cols.lock_version = Max(SPI_fnumber(td, "lock_version"), 0);
	cols.delivered_at = Max(SPI_fnumber(td, "delivered_at"), 0);
	cols.credit_applied = Max(SPI_fnumber(td, "credit_applied"), 0);
	cols.relid = RelationGetRelid(rel);
	return &cols;
}

/* The order's store credit, credit_applied (0 on a 0.1.0 schema). */
Numeric
om_row_credit_applied(HeapTuple tuple, TupleDesc td, const OrderCols *c)
{
	bool		isnull;

	if (c->credit_applied == 0)
		return DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(0)));
	return DatumGetNumeric(heap_getattr(tuple, c->credit_applied, td, &isnull));
}

void
om_edit_init(OmRowEdit *edit, TupleDesc tupdesc)
{
	edit->tupdesc = tupdesc;
	edit->values = palloc0(sizeof(Datum) * tupdesc->natts);
	edit->nulls = palloc0(sizeof(bool) * tupdesc->natts);
	edit->replace = palloc0(sizeof(bool) * tupdesc->natts);
	edit->any = false;
}

void
om_edit_set(OmRowEdit *edit, AttrNumber attnum, Datum value, bool isnull)
{
	edit->values[attnum - 1] = value;
	edit->nulls[attnum - 1] = isnull;
	edit->replace[attnum - 1] = true;
	edit->any = true;
}

/* The row with the edits made, or the row itself if there were none. */
HeapTuple
om_edit_apply(OmRowEdit *edit, HeapTuple tuple)
{
	if (!edit->any)
		return tuple;
	return heap_modify_tuple(tuple, edit->tupdesc, edit->values, edit->nulls,
							 edit->replace);
}

int64
om_row_int64(HeapTuple tuple, TupleDesc td, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, td, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

char *
om_row_text(HeapTuple tuple, TupleDesc td, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, td, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* The state index of a status column; status columns are NOT NULL. */
int
om_row_state(HeapTuple tuple, TupleDesc td, AttrNumber attnum, OmMachine machine)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, td, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("%s of an order must not be null", om_machine_name(machine))));
	return om_state_from_datum(machine, TupleDescAttr(td, attnum - 1)->atttypid, d);
}

/* The label of an enum value. */
char *
om_enum_label(Datum value)
{
	HeapTuple	tup = SearchSysCache1(ENUMOID, value);
	char	   *label;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for enum value %u", DatumGetObjectId(value));
	label = pstrdup(NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel));
	ReleaseSysCache(tup);
	return label;
}

/* The value of enum type enumtype with the given label. */
Datum
om_enum_value(Oid enumtype, const char *label)
{
	HeapTuple	tup = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(enumtype),
									  CStringGetDatum(label));
	Oid			oid;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "enum type %u has no label \"%s\"", enumtype, label);
	oid = ((Form_pg_enum) GETSTRUCT(tup))->oid;
	ReleaseSysCache(tup);
	return ObjectIdGetDatum(oid);
}

