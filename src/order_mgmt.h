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
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
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
extern void om_events_define_gucs(void);
extern const char *om_actor(void);
extern void om_event_write(int64 shop_id, int64 order_id, const char *kind,
						   const char *from_value, const char *to_value,
						   const char *detail_json);
extern bool om_events_defer_begin(MemoryContext cxt);
extern void om_events_defer_end(void);
extern int	om_events_deferred(void);
extern void om_events_rewind(int mark);
extern void om_events_flush(void);

/* checkout.c: the lines JSON, shared with returns */
typedef struct OmLineQty
{
	char	   *sku;
	int32		qty;
} OmLineQty;

extern OmLineQty *om_parse_lines(Jsonb *jb, int *nlines);

/* reservation.c: holding, releasing and committing stock (SPEC §4) */
typedef struct OmHold
{
	char	   *sku;
	int32		qty;
	int32		buckets;		/* stock buckets of the SKU */
	bool		queue;			/* admission queue */
} OmHold;

extern bool om_nowait;
extern void om_hold_stock(int64 shop_id, int64 order_id, int64 return_id,
						  const OmHold *lines, int nlines, StringInfo holds);
extern int64 om_release_stock(int64 shop_id, int64 order_id);
extern int64 om_commit_stock(int64 shop_id, int64 order_id);
extern int64 om_release_return_stock(int64 shop_id, int64 order_id, int64 return_id);
extern int64 om_commit_return_stock(int64 shop_id, int64 order_id, int64 return_id);

/*
 * order_effects.c: while a run_due() set UPDATE of many orders runs,
 * orders_after collects the orders whose side effects have a set-based
 * form here instead of doing them one by one; om_set_effects_apply() then
 * does each kind for all of them with one statement.
 */
typedef struct OmOrderList
{
	int			n;
	int			max;
	Datum	   *shops;			/* int8 */
	Datum	   *orders;			/* int8 */
	Datum	   *reasons;		/* text (failed orders: the auto-cancel's reason) */
} OmOrderList;

typedef struct OmSetEffects
{
	MemoryContext cxt;			/* where the lists live */
	int			depth;			/* om_api_depth of the set's UPDATE */
	OmOrderList cancelled;		/* release stock, drop deadlines, schedule archiving */
	OmOrderList failed;			/* schedule the auto-cancel */
} OmSetEffects;

extern OmSetEffects *om_set_effects;
extern void om_set_effects_apply(OmSetEffects *effects);
extern void om_release_stock_set(int n, Datum shops, Datum orders);

/* sweep_batch.c: a run_due() batch's counter changes and events, written at its end */
extern bool om_batch_active(void);
extern void om_batch_begin(MemoryContext cxt);
extern void om_batch_end(void);
typedef struct OmBatchMark
{
	int			deltas;			/* counter changes recorded */
	int			events;			/* events deferred */
} OmBatchMark;
extern OmBatchMark om_batch_mark(void);
extern void om_batch_rewind(OmBatchMark mark);
extern void om_batch_spill(void);
extern void om_batch_add_stock(int64 shop_id, const char *sku, int32 bucket, int32 qty);
extern void om_batch_add_promo(int64 shop_id, const char *code_key, const char *who);
extern void om_batch_flush(void);

/* promo.c: promo codes (SPEC §5) */
typedef struct OmPromo
{
	char	   *code_key;
	char	   *code;
	char	   *kind;			/* percent, amount, free_shipping */
	Numeric		value;
	Numeric		min_subtotal;
	bool		limited;
	int32		usage_limit;
	bool		per_customer;
	int32		per_customer_limit;
	char	   *customer_id;	/* personal code, or NULL */
	bool		has_start;
	TimestampTz starts_at;
	bool		has_end;
	TimestampTz ends_at;
	bool		active;
} OmPromo;

extern bool om_promo_lookup(int64 shop_id, const char *code_key, OmPromo *p);
extern void om_promo_validate(const OmPromo *p, const char *entered,
							  const char *customer_id, Numeric subtotal);
extern void om_promo_claim(int64 shop_id, int64 order_id, const OmPromo *p,
						   const char *customer_id, const char *email_key);
extern void om_promo_release(int64 shop_id, int64 order_id, const char *code_key);

/* spi_plans.c: prepared, kept SPI plans */
extern SPIPlanPtr om_plan(SPIPlanPtr *slot, const char *sql, int nargs,
						  const Oid *argtypes);
extern int	om_exec(SPIPlanPtr plan, Datum *values, const char *nulls,
					bool read_only, long count);
extern int	om_api_depth;
extern int	om_exec_quiet(SPIPlanPtr plan, Datum *values, const char *nulls,
						  bool read_only, long count);
extern text *om_spi_text(const char *s);
extern uint64 om_exec_for_order(SPIPlanPtr *slot, const char *sql, int64 shop_id,
								 int64 order_id);
extern bool om_exists(SPIPlanPtr *slot, const char *sql, int64 shop_id, const char *key);
extern bool om_try(void (*fn) (void *), void *arg, const int *codes, int ncodes,
				   ErrorData **error);

/* shop.c: shops and customers */
extern void om_shop_not_found(int64 shop_id) pg_attribute_noreturn();
extern void om_require_shop(int64 shop_id);
extern void om_check_email(const char *email);
extern char *om_email_arg(text *arg);

/* order_effects.c: side effects of order moves */
extern const char *om_failure_reason;

/* order_api.c: the order operations */
typedef struct OmOrder
{
	int64		shop_id;
	int64		order_id;
	int			status;			/* OmOrderStatus */
	int			payment;		/* OmPaymentStatus */
	Numeric		total;
	Numeric		paid_amount;
	Numeric		refunded_amount;
} OmOrder;

extern void om_order_not_found(int64 shop_id, int64 order_id) pg_attribute_noreturn();
extern void om_lock_order(int64 shop_id, int64 order_id, OmOrder *order);
extern void om_move_status(int64 shop_id, int64 order_id, const char *status,
						   const char *reason, const char *note, const char *source);
extern int	om_state_by_name(OmMachine machine, const char *name);

/* automation.c: automation rules and reward points (SPEC §9) */
extern void om_automation_track(int64 shop_id, int64 order_id);
extern void om_rewards_earn(int64 shop_id, int64 order_id);
extern void om_rewards_reverse(int64 shop_id, int64 order_id);

/* sweeper.c: the background worker */
extern void om_sweeper_define_gucs(void);
extern void om_sweeper_register(void);

/* deadlines.c: due actions and the sweeper's work (SPEC §13) */
extern bool om_apply_due_action(int64 shop_id, int64 order_id, const char *action,
								const char *reason);

/* money.c: numeric money arithmetic, rounded to currency minor units */
extern Numeric om_num_int(int64 v);
extern Numeric om_num_add(Numeric a, Numeric b);
extern Numeric om_num_sub(Numeric a, Numeric b);
extern Numeric om_num_mul(Numeric a, Numeric b);
extern Numeric om_num_div(Numeric a, Numeric b);
extern int	om_num_cmp(Numeric a, Numeric b);
extern Numeric om_num_min(Numeric a, Numeric b);
extern Numeric om_num_round(Numeric a, int digits);
extern char *om_num_text(Numeric a);
extern bool om_num_is_amount(Numeric a);
extern int	om_currency_digits(const char *currency);

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
