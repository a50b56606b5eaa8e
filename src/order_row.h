/*-------------------------------------------------------------------------
 *
 * order_row.h
 *	  Reading order_mgmt.orders rows inside the triggers (order_guard.c,
 *	  order_effects.c): column numbers, looked up once per backend, and
 *	  typed accessors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ORDER_ROW_H
#define ORDER_ROW_H

#include "order_mgmt.h"

#include "access/htup_details.h"
#include "utils/rel.h"

typedef struct OrderCols
{
	Oid			relid;
	AttrNumber	shop_id, order_id, order_no, customer_id, email, email_key,
				logistics, status, payment_status, delivery_status, promo_key,
				hold_until, payment_due_at, created_at, updated_at, paid_at,
				shipped_at, completed_at, cancelled_at, cancel_source,
				cancel_reason, cancel_note, archived_at, admin_note,
				shipping_note, customer_note, consulted_support,
				reactivated_at, refunded_amount;
} OrderCols;

extern OrderCols om_order_cols;

extern void om_load_order_cols(Relation rel);
extern int	om_row_state(HeapTuple tuple, TupleDesc td, AttrNumber attnum, OmMachine machine);
extern char *om_enum_label(Datum value);
extern int64 om_row_int64(HeapTuple tuple, TupleDesc td, AttrNumber attnum);
extern char *om_row_text(HeapTuple tuple, TupleDesc td, AttrNumber attnum);

#endif							/* ORDER_ROW_H */
