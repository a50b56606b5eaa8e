/*-------------------------------------------------------------------------
 *
 * order_mgmt.h
 *	  Declarations shared between the concern files of order_mgmt.
 *
 * Each .c file owns one concern and says so in its header comment; this
 * file only lists what one concern offers the others.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ORDER_MGMT_H
#define ORDER_MGMT_H

#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "om_errcodes.h"

/* Upper bound on a line's or an adjustment's quantity (SPEC §16). */
#define OM_MAX_QTY		100000
/* Upper bound on stock buckets per SKU (SPEC §4.4). */
#define OM_MAX_BUCKETS	64
/* Longest identifier we accept (SKU, customer id, promo code ...), in characters. */
#define OM_MAX_IDENT	200

/* clock.c: the injectable clock (SPEC §13) */
extern void om_clock_define_guc(void);
extern TimestampTz om_now(void);

/* machines.c: the three status machines (SPEC §3) */
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
	DS_RETURNING, DS_RETURNED
} OmDeliveryStatus;

extern const char *om_machine_name(OmMachine machine);
extern const char *om_state_name(OmMachine machine, int state);
extern int	om_state_from_datum(OmMachine machine, Oid enumtype, Datum value);
extern Datum om_state_to_datum(OmMachine machine, Oid enumtype, int state);
extern bool om_move_allowed(OmMachine machine, int from, int to);
extern bool om_delivery_pre_shipment(int state);

/* events.c: the append-only event log (SPEC §12) */
extern bool om_acting_as_system;
extern const char *om_actor(void);
extern void om_event_write(int64 shop_id, int64 order_id, const char *kind,
						   const char *from_value, const char *to_value,
						   const char *detail_json);

/* spi_plans.c: prepared, kept SPI plans */
extern SPIPlanPtr om_plan(SPIPlanPtr *slot, const char *sql, int nargs,
						  const Oid *argtypes);
extern int	om_exec(SPIPlanPtr plan, Datum *values, const char *nulls,
					bool read_only, long count);

/* shop.c: shops and customers */
extern void om_shop_not_found(int64 shop_id) pg_attribute_noreturn();
extern void om_require_shop(int64 shop_id);

/* text_icu.c: ICU text handling (SPEC §15) */
extern char *om_normalize(const char *s, bool trim);
extern void om_check_identifier(const char *what, const char *value);
extern void om_check_currency(const char *code);
extern void om_check_locale(const char *locale);

/* argument checks shared by the SQL-callable functions */
#define OM_ARG_NOT_NULL(n, name) \
	do { \
		if (PG_ARGISNULL(n)) \
			ereport(ERROR, \
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
					 errmsg("%s must not be null", (name)))); \
	} while (0)

#endif							/* ORDER_MGMT_H */
