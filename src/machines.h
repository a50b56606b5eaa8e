/*-------------------------------------------------------------------------
 *
 * machines.h
 *	  The three status machines (machines.c, SPEC §3).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_MACHINES_H
#define OM_MACHINES_H

typedef enum OmMachine
{
	OM_MACHINE_ORDER,
	OM_MACHINE_PAYMENT,
	OM_MACHINE_DELIVERY,
	OM_NUM_MACHINES
} OmMachine;

/* State indexes; they follow the enum declarations in src/sql/00_types.sql. */
typedef enum OmOrderStatus
{
	OS_PENDING, OS_CONFIRMED, OS_COMPLETED, OS_CANCELLED
} OmOrderStatus;

typedef enum OmPaymentStatus
{
	PS_UNPAID, PS_PENDING, PS_PAID, PS_FAILED, PS_REFUNDING,
	PS_PARTIALLY_REFUNDED, PS_REFUNDED
} OmPaymentStatus;

typedef enum OmDeliveryStatus
{
	DS_UNFULFILLED, DS_NOT_EXECUTED, DS_SHIPMENT_CANCELLED,
	DS_SHIPPING_OVERDUE, DS_SHIPPING, DS_SHIPPED, DS_ARRIVED, DS_COLLECTED,
	DS_RETURNING, DS_RETURNED,
	DS_PARTIALLY_SHIPPED		/* 0.2.0, issue 17 item 9: appended */
} OmDeliveryStatus;

/*
 * SPEC §3.1: the delivery states before shipment, in which cancelling is
 * allowed, as an SQL list for the statements in C.  machines.c derives
 * om_delivery_pre_shipment() from this same list.
 */
#define OM_PRE_SHIPMENT_SQL \
	"('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue')"

/*
 * The delivery states in which an order still holds stock for lines not
 * yet shipped: pre-shipment, or partially_shipped (some lines went out in
 * packages).  Leaving this set commits what is still held.  For statements
 * that must also run on a 0.1.0 schema, whose enum has no
 * partially_shipped: compare delivery_status::text with it.
 */
#define OM_UNSHIPPED_SQL \
	"('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue', 'partially_shipped')"

extern const char *om_machine_name(OmMachine machine);
extern const char *om_state_name(OmMachine machine, int state);
extern int	om_state_by_name(OmMachine machine, const char *name);
extern int	om_state_from_datum(OmMachine machine, Oid enumtype, Datum value);
extern Datum om_state_to_datum(OmMachine machine, Oid enumtype, int state);
extern bool om_move_allowed(OmMachine machine, int from, int to);
extern bool om_move_api_only(OmMachine machine, int from, int to);
extern bool om_delivery_pre_shipment(int state);
extern bool om_delivery_unshipped(int state);
extern bool om_delivery_package_state(int state);

#endif							/* OM_MACHINES_H */
