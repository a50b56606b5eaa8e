/*-------------------------------------------------------------------------
 *
 * order_row.h
 *	  Reading and editing order_mgmt.orders rows inside the triggers
 *	  (order_row.c): column numbers and typed accessors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_ORDER_ROW_H
#define OM_ORDER_ROW_H

#include "access/htup_details.h"
#include "utils/rel.h"

#include "utils/numeric.h"

#include "machines.h"

typedef struct OrderCols
{
	Oid			relid;
	AttrNumber	shop_id, order_id, order_no, customer_id, email, email_key,
				logistics, status, payment_status, delivery_status, promo_key,
				hold_until, payment_due_at, created_at, updated_at, paid_at,
				shipped_at, completed_at, cancelled_at, cancel_source,
				cancel_reason, cancel_note, archived_at, admin_note,
				shipping_note, customer_note, consulted_support,
				reactivated_at, refunded_amount, paid_amount, total;
	AttrNumber	lock_version;	/* 0 on a 0.1.0 schema not yet updated */
	AttrNumber	delivered_at;	/* 0 on a 0.1.0 schema not yet updated */
	AttrNumber	credit_applied; /* 0 on a 0.1.0 schema not yet updated */
} OrderCols;

/* Pending replacements for the row being written (a BEFORE trigger). */
typedef struct OmRowEdit
{
	TupleDesc	tupdesc;
	Datum	   *values;
	bool	   *nulls;
	bool	   *replace;
	bool		any;
} OmRowEdit;

extern const OrderCols *om_order_cols(Relation rel);
extern int	om_row_state(HeapTuple tuple, TupleDesc td, AttrNumber attnum, OmMachine machine);
extern int64 om_row_int64(HeapTuple tuple, TupleDesc td, AttrNumber attnum);
extern char *om_row_text(HeapTuple tuple, TupleDesc td, AttrNumber attnum);
extern Numeric om_row_credit_applied(HeapTuple tuple, TupleDesc td, const OrderCols *cols);
extern char *om_enum_label(Datum value);
extern Datum om_enum_value(Oid enumtype, const char *label);
extern void om_edit_init(OmRowEdit *edit, TupleDesc tupdesc);
extern void om_edit_set(OmRowEdit *edit, AttrNumber attnum, Datum value, bool isnull);
extern HeapTuple om_edit_apply(OmRowEdit *edit, HeapTuple tuple);

#endif							/* OM_ORDER_ROW_H */
