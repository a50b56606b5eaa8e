/*-------------------------------------------------------------------------
 *
 * order_effects.c
 *	  The side effects of order moves, done by the AFTER UPDATE trigger
 *	  orders_after so that a plain UPDATE of order_mgmt.orders has exactly
 *	  the effects of the API call (SPEC principle 1).
 *
 * For each row whose statuses or archive flag changed (the trigger's WHEN
 * clause skips the rest) it appends the transition events, then does, in
 * this order and one step function each:
 *
 *	cancelled			gives the store credit it holds back, releases the
 *						promo redemption and the held stock, drops the
 *						order's pending deadlines and schedules
 *						auto-archiving (shop.auto_archive_after);
 *	reactivated			spends its store credit again, re-claims the promo
 *						code and holds the stock again, all or nothing
 *						(OM015/OM003/OM004/OM001 abort the UPDATE), and
 *						drops the deadlines of the cancelled order;
 *	completed			earns the customer's reward points, drops the
 *						pending deadlines and schedules auto-archiving;
 *	left pre-shipment	commits the held stock (on_hand and reserved drop),
 *						or, from partially_shipped, what is still held;
 *	paid				drops the payment deadline and any auto-cancel;
 *	failed				schedules the auto-cancel when the shop wants it;
 *	left failed			drops the auto-cancel (a retry restores the
 *						payment deadline);
 *	payment or delivery	sets or drops the automation rule's deadline;
 *	refunded more		reverses the reward points the money no longer earns;
 *	collected			a cod order's payment becomes paid (cod.c).
 *
 * Lock order: the order row (held by the UPDATE), the customer's store
 * credit balance row, the promo code row, then stock rows in SKU order;
 * see reservation.c and store_credit.c.
 *
 * A multi-row UPDATE keeps that order too.  PostgreSQL locks all its order
 * rows while it runs, then fires the row events of the statement one after
 * another; done row by row, the effects would lock one order's stock and
 * then the next order's promo code, and deadlock (40P01) with a checkout
 * holding that code and waiting for that stock.  So, on the first row
 * event of a statement that moved more than one order, orders_after locks
 * everything the statement's effects will take, in the global order: the
 * store credit balance rows of the orders that spent credit (cancelled or
 * reactivated), the promo code rows, then the per-customer counters, then
 * the stock rows by
 * (shop, sku COLLATE "C", bucket); the row effects then find them locked
 * already.  What each move takes is read from the statement's transition
 * tables (REFERENCING OLD TABLE AS old_orders NEW TABLE AS new_orders, see
 * src/sql/30_triggers.sql) and the orders' redemptions, reservations and
 * lines:
 *
 *	cancelled			the codes and counters of the active redemption, the
 *						stock rows of the held reservations;
 *	reactivated			the code (if limited), the customer's counter (if the
 *						code has a per-customer limit), every bucket of the
 *						SKUs of the order's lines (which buckets the holds
 *						take is decided as they go);
 *	left pre-shipment	the stock rows of the held reservations.
 *
 * Why this design: an AFTER STATEMENT trigger fires only after all the row
 * events, and a BEFORE STATEMENT one before the rows are known; the BEFORE
 * ROW trigger runs while the UPDATE still locks order rows, so locking
 * codes and stock there would put them before order rows.  The row events
 * of one statement all see the same transition tables, which PostgreSQL
 * keeps only while the statement's events fire, and they are the only
 * complete list of the statement's rows.  Keeping them costs every UPDATE
 * of orders a copy of its old and new row versions in memory (figures in
 * docs/performance.md); a statement of one row skips the lock step, since
 * one order's effects already go in the global order.
 *
 * A statement is recognised by its NEW TABLE together with the transaction
 * and subtransaction its events run in (a later statement in a failed
 * one's place runs in a later one), and counted down: the lock step counts
 * the statement's row events, with the trigger's WHEN condition (keep
 * MOVED_SQL in step with it), and the last of them ends the statement.
 * A statement the effects run (a nested one) has its own count and is
 * followed by ours again.  Inside run_due() (the acting context's nowait)
 * the lock step is left out: the sweeper waits for nothing, it locks its
 * set's counters SKIP LOCKED before its UPDATE (sweep.c) and everything
 * else NOWAIT.  A trigger created without transition tables (a 0.1.0
 * install not yet updated) works row by row, as before.  A shard's trigger
 * on Citus cannot plan this lock step (a join of the transition tables
 * with distributed tables, FOR UPDATE): there citus_lock_step.c counts the
 * row events and takes the same locks from the transition tables read in
 * C, shop by shop, with single-table statements Citus routes to the local
 * shards (docs/citus.md).
 *
 * While run_due() updates a set of orders with one statement (sweep.c),
 * the acting context names the set: the trigger then only notes the
 * cancelled orders, the failed ones and those whose automation deadline
 * may move in it, and om_sweep_set_apply() (sweep_set.c) gives their held
 * stock back, drops their deadlines, schedules their archiving or
 * auto-cancel and sets or drops their automation deadline with one
 * statement each, for all of them, right after that UPDATE and in the
 * same subtransaction.
 * Each order still gets exactly the per-row effects, in the same order
 * among its own; if anything fails, the whole set is rolled back and done
 * one by one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/tuplestore.h"

#include "automation.h"
#include "citus_lock_step.h"
#include "clock.h"
#include "cod.h"
#include "context.h"
#include "due_action.h"
#include "events.h"
#include "machines.h"
#include "money.h"
#include "order_row.h"
#include "promo.h"
#include "spi_util.h"
#include "stock.h"
#include "store_credit.h"
#include "sweep.h"


/* The column numbers of order_mgmt.orders, set at the trigger's entry. */
static const OrderCols *cols;

/* {"source":..,"reason":..,"note":..} for a cancellation event. */
static char *
CancelDetail(HeapTuple tuple, TupleDesc td)
{
	StringInfoData buf;
	bool		isnull;
	Datum		d;
	char	   *note;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"source\": ");
	d = heap_getattr(tuple, cols->cancel_source, td, &isnull);
	if (isnull)
		appendStringInfoString(&buf, "null");
	else
		escape_json(&buf, om_enum_label(d));
	appendStringInfoString(&buf, ", \"reason\": ");
	d = heap_getattr(tuple, cols->cancel_reason, td, &isnull);
	if (isnull)
		appendStringInfoString(&buf, "null");
	else
		escape_json(&buf, om_enum_label(d));
	note = om_row_text(tuple, td, cols->cancel_note);
	if (note)
	{
		appendStringInfoString(&buf, ", \"note\": ");
		escape_json(&buf, note);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * Drop an order's deadlines of the given kinds (a comma-separated list).
 * The column is compared as the enum, not as text: Citus refuses a STABLE
 * function (the enum's output) of a column in a DELETE's WHERE.
 */
static void
DropDeadlines(int64 shop_id, int64 order_id, const char *kinds)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TEXTOID};
	Datum		values[3];

	om_plan(&plan,
			"DELETE FROM order_mgmt.due_action WHERE shop_id = $1 AND order_id = $2"
			" AND action = ANY (pg_catalog.string_to_array($3, ',')::order_mgmt.due_kind[])",
			3, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = CStringGetTextDatum(kinds);
	om_exec(plan, values, NULL, false, 0);
}

/*
 * A failed payment retried: the payment deadline applies again.  From
 * 0.2.0 it does by itself: the order awaits payment again, so
 * orders_payment_due has it at its payment_due_at (due_action.h); a
 * 0.1.0 schema needs the due_action row back.
 */
static void
ScheduleTimeoutAgain(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;

	if (om_timeouts_on_orders())
		return;
	om_exec_for_order(&plan,
					  "INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, created_at)"
					  " SELECT $1, $2, 'payment_timeout', o.payment_due_at, $3 FROM order_mgmt.orders o"
					  " WHERE o.shop_id = $1 AND o.order_id = $2 AND o.payment_due_at IS NOT NULL"
					  " ON CONFLICT (shop_id, order_id, action) DO NOTHING",
					  shop_id, order_id);
}

/* A failed order is cancelled auto_cancel_delay later, if the shop says so. */
static void
ScheduleAutoCancel(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[4];

	om_plan(&plan,
			"INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, reason, created_at)"
			" SELECT $1, $2, 'auto_cancel', $3 + s.auto_cancel_delay, $4::order_mgmt.cancel_reason, $3"
			" FROM order_mgmt.shop s WHERE s.shop_id = $1 AND s.auto_cancel_failed"
			" ON CONFLICT (shop_id, order_id, action) DO UPDATE"
			" SET due_at = EXCLUDED.due_at, reason = EXCLUDED.reason",
			4, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(om_now());
	values[3] = CStringGetTextDatum(om_act()->failure_reason ? om_act()->failure_reason : "payment_failed");
	om_exec(plan, values, NULL, false, 0);
}

/* Completed and cancelled orders are archived auto_archive_after later, if the shop says so. */
static void
ScheduleAutoArchive(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;

	om_exec_for_order(&plan,
					  "INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, created_at)"
					  " SELECT $1, $2, 'auto_archive', $3 + s.auto_archive_after, $3"
					  " FROM order_mgmt.shop s WHERE s.shop_id = $1 AND s.auto_archive_after IS NOT NULL"
					  " ON CONFLICT (shop_id, order_id, action) DO UPDATE SET due_at = EXCLUDED.due_at",
					  shop_id, order_id);
}

/* Reactivation: hold the order's lines again (tracked SKUs), or OM001. */
static void
HoldAgain(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	Datum		values[2];
	OmHold	   *holds;
	uint64		n;
	uint64		i;
	StringInfoData detail;

	om_plan(&plan,
			"SELECT l.sku, sum(l.qty)::int4,"
			" coalesce(min(k.stock_buckets), min(s.stock_buckets)),"
			" coalesce(bool_or(k.admission_queue), bool_or(s.admission_queue))"
			" FROM order_mgmt.order_line l"
			" JOIN order_mgmt.sku k ON k.shop_id = l.shop_id AND k.sku = l.sku"
			" JOIN order_mgmt.shop s ON s.shop_id = l.shop_id"
			" WHERE l.shop_id = $1 AND l.order_id = $2"
			"   AND (NOT k.digital OR EXISTS (SELECT FROM order_mgmt.stock t"
			"        WHERE t.shop_id = $1 AND t.sku = l.sku))"
			" GROUP BY l.sku ORDER BY l.sku COLLATE \"C\"",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	om_exec(plan, values, NULL, false, 0);	/* a new snapshot */
	n = SPI_processed;
	if (n == 0)
		return;
	holds = palloc(sizeof(OmHold) * n);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;

		holds[i].sku = TextDatumGetCString(SPI_getbinval(tup, td, 1, &isnull));
		holds[i].qty = DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
		holds[i].buckets = DatumGetInt32(SPI_getbinval(tup, td, 3, &isnull));
		holds[i].queue = DatumGetBool(SPI_getbinval(tup, td, 4, &isnull));
	}
	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"holds\": [");
	om_hold_stock(shop_id, order_id, 0, holds, (int) n, &detail);
	appendStringInfoString(&detail, "]}");
	om_event_write(shop_id, order_id, "reserve", NULL, NULL, detail.data);
}

/* Reactivation: claim the order's promo code again, or OM003/OM004. */
static void
ClaimAgain(int64 shop_id, int64 order_id, const char *code_key,
		   const char *customer_id, const char *email_key)
{
	OmPromo		promo;
	StringInfoData detail;

	if (!om_promo_lookup(shop_id, code_key, &promo))
		return;
	om_promo_claim(shop_id, order_id, &promo, customer_id, email_key);
	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"code\": ");
	escape_json(&detail, code_key);
	appendStringInfoChar(&detail, '}');
	om_event_write(shop_id, order_id, "promo_claim", NULL, NULL, detail.data);
}

/*
 * One UPDATE of an order as orders_after sees it: the two row versions,
 * the order's keys and each machine's state before and after (filled by
 * WriteTransitionEvents).
 */
typedef struct OrderChange
{
	TupleDesc	td;
	HeapTuple	oldtup;
	HeapTuple	newtup;
	int64		shop_id;
	int64		order_id;
	int			from[OM_NUM_MACHINES];
	int			to[OM_NUM_MACHINES];
} OrderChange;

/*
 * Read each machine's move into ch->from and ch->to and append an event
 * for each machine that moved (order, payment, delivery in turn; a
 * cancellation carries its source, reason and note), then an archive or
 * unarchive event when the archive flag changed.
 */
static void
WriteTransitionEvents(OrderChange *ch)
{
	TupleDesc	td = ch->td;
	AttrNumber	attnum[OM_NUM_MACHINES];
	int			m;

	attnum[OM_MACHINE_ORDER] = cols->status;
	attnum[OM_MACHINE_PAYMENT] = cols->payment_status;
	attnum[OM_MACHINE_DELIVERY] = cols->delivery_status;

	for (m = 0; m < OM_NUM_MACHINES; m++)
	{
		ch->from[m] = om_row_state(ch->oldtup, td, attnum[m], m);
		ch->to[m] = om_row_state(ch->newtup, td, attnum[m], m);
		if (ch->from[m] != ch->to[m])
			om_event_write(ch->shop_id, ch->order_id, om_machine_name(m),
						   om_state_name(m, ch->from[m]), om_state_name(m, ch->to[m]),
						   (m == OM_MACHINE_ORDER && ch->to[m] == OS_CANCELLED) ?
						   CancelDetail(ch->newtup, td) : NULL);
	}
	if (heap_attisnull(ch->oldtup, cols->archived_at, td) != heap_attisnull(ch->newtup, cols->archived_at, td))
		om_event_write(ch->shop_id, ch->order_id,
					   heap_attisnull(ch->newtup, cols->archived_at, td) ? "unarchive" : "archive",
					   NULL, NULL, NULL);
}

/* The store credit the order spent at checkout (0 on a 0.1.0 schema). */
static Numeric
CreditApplied(const OrderChange *ch)
{
	return om_row_credit_applied(ch->newtup, ch->td, cols);
}

static bool
HasCredit(const OrderChange *ch)
{
	return om_num_cmp(CreditApplied(ch), om_num_int(0)) > 0;
}

/*
 * Cancelled: give back the store credit the order holds (store_credit.c),
 * release the promo redemption (promo_key, or NULL for none), then give
 * the held stock back, drop the pending deadlines and schedule
 * auto-archiving; inside a run_due() set UPDATE, only note the order for
 * om_sweep_set_apply() instead of those last three.
 */
static void
CancelEffects(const OrderChange *ch, const char *promo_key)
{
	if (HasCredit(ch))
		om_credit_order_cancelled(ch->shop_id, ch->order_id,
								  om_row_text(ch->newtup, ch->td, cols->customer_id));
	if (promo_key)
		om_promo_release(ch->shop_id, ch->order_id, promo_key);
	if (om_act_in_set())
		om_sweep_set_note(om_act()->set, OM_SET_CANCELLED, ch->shop_id, ch->order_id, NULL);
	else
	{
		om_release_stock(ch->shop_id, ch->order_id);
		DropDeadlines(ch->shop_id, ch->order_id, "payment_timeout,auto_cancel,hold_end,automation_complete");
		ScheduleAutoArchive(ch->shop_id, ch->order_id);
	}
}

/*
 * Reactivated: spend the order's store credit again, claim the promo code
 * again (promo_key, or NULL for none), hold the stock again, then drop the
 * deadlines of the cancelled order; all or nothing, as
 * OM015/OM003/OM004/OM001 abort the UPDATE.
 */
static void
ReactivateEffects(const OrderChange *ch, const char *promo_key)
{
	if (HasCredit(ch))
		om_credit_order_reactivated(ch->shop_id, ch->order_id,
									om_row_text(ch->newtup, ch->td, cols->customer_id),
									CreditApplied(ch));
	if (promo_key)
		ClaimAgain(ch->shop_id, ch->order_id, promo_key,
				   om_row_text(ch->newtup, ch->td, cols->customer_id),
				   om_row_text(ch->newtup, ch->td, cols->email_key));
	HoldAgain(ch->shop_id, ch->order_id);
	DropDeadlines(ch->shop_id, ch->order_id, "payment_timeout,auto_cancel,auto_archive");
}

/*
 * Completed: earn the customer's reward points, drop the pending
 * deadlines and schedule auto-archiving.
 */
static void
CompleteEffects(const OrderChange *ch)
{
	om_rewards_earn(ch->shop_id, ch->order_id);
	DropDeadlines(ch->shop_id, ch->order_id, "payment_timeout,auto_cancel,hold_end,automation_complete");
	ScheduleAutoArchive(ch->shop_id, ch->order_id);
}

/*
 * The effects of an order status move: cancel, reactivate or complete
 * (at most one applies).  Each takes the promo code row before the stock
 * rows (lock order).
 */
static void
OrderStatusEffects(const OrderChange *ch)
{
	int			from = ch->from[OM_MACHINE_ORDER];
	int			to = ch->to[OM_MACHINE_ORDER];
	char	   *promo_key = om_row_text(ch->newtup, ch->td, cols->promo_key);

	if (to == OS_CANCELLED && from != OS_CANCELLED)
		CancelEffects(ch, promo_key);
	else if (from == OS_CANCELLED && to != OS_CANCELLED)
		ReactivateEffects(ch, promo_key);
	else if (to == OS_COMPLETED && from != OS_COMPLETED)
		CompleteEffects(ch);
}

/*
 * Shipment (delivery leaving pre-shipment) commits the held stock (SPEC
 * §4.2).  A package of some lines (to partially_shipped) commits its own
 * lines' stock (shipment.c); the rest is committed when the order leaves
 * partially_shipped.
 */
static void
CommitShipment(const OrderChange *ch)
{
	if (om_delivery_unshipped(ch->from[OM_MACHINE_DELIVERY]) &&
		!om_delivery_unshipped(ch->to[OM_MACHINE_DELIVERY]))
		om_commit_stock(ch->shop_id, ch->order_id);
}

/*
 * Payment deadlines (SPEC §6) after a payment move: paid drops the
 * payment deadline and any auto-cancel; failed, on an order neither
 * cancelled nor ever reactivated, schedules the auto-cancel (or notes it
 * for the run_due() set); leaving failed drops the auto-cancel, and a
 * retry (pending) restores the payment deadline.
 */
static void
PaymentDeadlines(const OrderChange *ch)
{
	int			from = ch->from[OM_MACHINE_PAYMENT];
	int			to = ch->to[OM_MACHINE_PAYMENT];
	const OmAct *act = om_act();

	if (from == to)
		return;
	if (to == PS_PAID)
		DropDeadlines(ch->shop_id, ch->order_id, "payment_timeout,auto_cancel");
	else if (to == PS_FAILED &&
			 ch->to[OM_MACHINE_ORDER] != OS_CANCELLED &&
			 heap_attisnull(ch->newtup, cols->reactivated_at, ch->td))
	{
		if (om_act_in_set())
			om_sweep_set_note(act->set, OM_SET_FAILED, ch->shop_id, ch->order_id,
							  act->failure_reason ? act->failure_reason : "payment_failed");
		else
			ScheduleAutoCancel(ch->shop_id, ch->order_id);
	}
	else if (from == PS_FAILED)
	{
		DropDeadlines(ch->shop_id, ch->order_id, "auto_cancel");
		/* a retry keeps the original deadline (SPEC §6), even a passed one */
		if (to == PS_PENDING)
			ScheduleTimeoutAgain(ch->shop_id, ch->order_id);
	}
}

/*
 * Automation rules watch payment and delivery (SPEC §9): when either
 * moved on a pending or confirmed order, set or drop the rule's deadline.
 */
static void
TrackAutomation(const OrderChange *ch)
{
	if ((ch->from[OM_MACHINE_PAYMENT] != ch->to[OM_MACHINE_PAYMENT] ||
		 ch->from[OM_MACHINE_DELIVERY] != ch->to[OM_MACHINE_DELIVERY]) &&
		(ch->to[OM_MACHINE_ORDER] == OS_PENDING || ch->to[OM_MACHINE_ORDER] == OS_CONFIRMED))
	{
		/* a run_due() set: one statement for all its orders (0.2.0) */
		if (om_act_in_set() && om_has_column("shop", "return_window"))
			om_sweep_set_note(om_act()->set, OM_SET_TRACKED, ch->shop_id, ch->order_id, NULL);
		else
			om_automation_track(ch->shop_id, ch->order_id);
	}
}

/*
 * A refund (refunded_amount grew) takes back the reward points it no
 * longer earns.
 */
static void
ReverseRewards(const OrderChange *ch)
{
	if (om_num_cmp(DatumGetNumeric(heap_getattr(ch->newtup, cols->refunded_amount, ch->td, &(bool){false})),
				   DatumGetNumeric(heap_getattr(ch->oldtup, cols->refunded_amount, ch->td, &(bool){false}))) > 0)
		om_rewards_reverse(ch->shop_id, ch->order_id);
}

/*
 * The statement whose row events orders_after is firing (see the file
 * header): its NEW TABLE, the (sub)transaction its events run in, and how
 * many of its row events have not begun.
 */
typedef struct StatementMark
{
	Tuplestorestate *new_table;
	TransactionId xid;
	SubTransactionId subxid;
	int64		left;
} StatementMark;

static StatementMark statement;

/*
 * The statement's moves, one row per order it changed (the OLD and NEW
 * transition tables joined on the key), with what each move takes.
 */
#define MOVES_SQL \
	"WITH m AS (SELECT n.shop_id, n.order_id, n.promo_key, n.customer_id, n.email_key," \
	"    o.status <> 'cancelled' AND n.status = 'cancelled' AS cancels," \
	"    o.status = 'cancelled' AND n.status <> 'cancelled' AS reactivates," \
	"    o.delivery_status::text IN " OM_UNSHIPPED_SQL \
	"      AND n.delivery_status::text NOT IN " OM_UNSHIPPED_SQL " AS ships" \
	"  FROM old_orders o JOIN new_orders n ON n.shop_id = o.shop_id AND n.order_id = o.order_id)"

/*
 * The WHEN condition of the trigger orders_after (src/sql/30_triggers.sql),
 * over the aliases old and new: which rows get a row event.  Keep the two
 * the same (sql/bulk_update.sql shows the trigger's definition).
 */
#define MOVED_SQL \
	"old.status IS DISTINCT FROM new.status" \
	" OR old.payment_status IS DISTINCT FROM new.payment_status" \
	" OR old.delivery_status IS DISTINCT FROM new.delivery_status" \
	" OR (old.archived_at IS NULL) <> (new.archived_at IS NULL)" \
	" OR old.refunded_amount IS DISTINCT FROM new.refunded_amount"

/* How many row events the statement fires.  Inside SPI, its tables registered. */
static int64
CountRowEvents(void)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	om_plan(&plan,
			"SELECT count(*) FROM old_orders AS old"
			" JOIN new_orders AS new ON new.shop_id = old.shop_id AND new.order_id = old.order_id"
			" WHERE " MOVED_SQL,
			0, NULL);
	om_exec(plan, NULL, NULL, true, 0);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Lock what the statement's effects will take, in the global lock order:
 * store credit balance rows, promo code rows (limited codes only: an unlimited one is claimed and
 * released without touching its row), per-customer counters, stock rows.
 * LockRows sits above the sort, so each statement locks in its ORDER BY.
 * Inside SPI, the statement's tables registered.
 */
static void
LockStatementRows(void)
{
	static SPIPlanPtr credit_plan = NULL;
	static SPIPlanPtr codes_plan = NULL;
	static SPIPlanPtr counters_plan = NULL;
	static SPIPlanPtr stock_plan = NULL;

	/* store credit balances (0.2.0) first: checkout takes them with the order */
	if (cols->credit_applied != 0)
	{
		om_plan(&credit_plan,
				"SELECT 1 FROM order_mgmt.store_credit_balance b"
				" WHERE (b.shop_id, b.customer_id) IN ("
				"   SELECT n.shop_id, n.customer_id FROM old_orders o JOIN new_orders n"
				"     ON n.shop_id = o.shop_id AND n.order_id = o.order_id"
				"   WHERE n.credit_applied > 0 AND n.customer_id IS NOT NULL"
				"     AND (o.status = 'cancelled') <> (n.status = 'cancelled'))"
				" ORDER BY b.shop_id, b.customer_id COLLATE \"C\" FOR NO KEY UPDATE OF b",
				0, NULL);
		om_exec(credit_plan, NULL, NULL, false, 0);
	}

	om_plan(&codes_plan,
			MOVES_SQL
			" SELECT 1 FROM order_mgmt.promo_code c"
			" WHERE (c.shop_id, c.code_key) IN ("
			"   SELECT r.shop_id, r.code_key FROM m JOIN order_mgmt.promo_redemption r"
			"     ON r.shop_id = m.shop_id AND r.order_id = m.order_id AND r.code_key = m.promo_key"
			"   WHERE m.cancels AND r.state = 'active' AND r.limited"
			"   UNION ALL SELECT m.shop_id, m.promo_key FROM m JOIN order_mgmt.promo_code p"
			"     ON p.shop_id = m.shop_id AND p.code_key = m.promo_key"
			"   WHERE m.reactivates AND p.usage_limit IS NOT NULL)"
			" ORDER BY c.shop_id, c.code_key COLLATE \"C\" FOR NO KEY UPDATE OF c",
			0, NULL);
	om_plan(&counters_plan,
			MOVES_SQL
			" SELECT 1 FROM order_mgmt.promo_customer_use w"
			" WHERE (w.shop_id, w.code_key, w.who) IN ("
			"   SELECT r.shop_id, r.code_key, r.who FROM m JOIN order_mgmt.promo_redemption r"
			"     ON r.shop_id = m.shop_id AND r.order_id = m.order_id AND r.code_key = m.promo_key"
			"   WHERE m.cancels AND r.state = 'active' AND r.who IS NOT NULL"
			"   UNION ALL SELECT m.shop_id, m.promo_key, CASE WHEN m.customer_id IS NOT NULL"
			"     THEN 'customer:' || m.customer_id ELSE 'email:' || m.email_key END"
			"   FROM m JOIN order_mgmt.promo_code p ON p.shop_id = m.shop_id AND p.code_key = m.promo_key"
			"   WHERE m.reactivates AND p.per_customer_limit IS NOT NULL)"
			" ORDER BY w.shop_id, w.code_key COLLATE \"C\", w.who COLLATE \"C\""
			" FOR NO KEY UPDATE OF w",
			0, NULL);
	om_plan(&stock_plan,
			MOVES_SQL
			" SELECT 1 FROM order_mgmt.stock s"
			" WHERE (s.shop_id, s.sku, s.bucket) IN ("
			"     SELECT r.shop_id, r.sku, r.bucket FROM m JOIN order_mgmt.reservation r"
			"       ON r.shop_id = m.shop_id AND r.order_id = m.order_id"
			"     WHERE (m.cancels OR m.ships) AND r.state = 'held' AND r.return_id IS NULL)"
			"   OR (s.shop_id, s.sku) IN ("
			"     SELECT l.shop_id, l.sku FROM m JOIN order_mgmt.order_line l"
			"       ON l.shop_id = m.shop_id AND l.order_id = m.order_id"
			"     WHERE m.reactivates)"
			" ORDER BY s.shop_id, s.sku COLLATE \"C\", s.bucket FOR NO KEY UPDATE OF s",
			0, NULL);
	om_exec(codes_plan, NULL, NULL, false, 0);
	om_exec(counters_plan, NULL, NULL, false, 0);
	om_exec(stock_plan, NULL, NULL, false, 0);
}

/*
 * The statement this row event belongs to, with this event counted: the
 * one seen last if the event is one of its, else a new one, for which, if
 * it moved more than one order, the lock step runs first.  Inside SPI.
 */
static StatementMark
EnterStatement(TriggerData *trigdata)
{
	StatementMark mark;

	mark.new_table = trigdata->tg_newtable;
	mark.xid = GetTopTransactionIdIfAny();
	mark.subxid = GetCurrentSubTransactionId();
	if (statement.left > 0 && statement.new_table == mark.new_table &&
		statement.xid == mark.xid && statement.subxid == mark.subxid)
		mark.left = statement.left;
	else if (mark.new_table == NULL || om_act()->nowait ||
			 tuplestore_tuple_count(mark.new_table) <= 1)
		mark.left = 1;
	else if (om_on_citus())
		mark.left = Max(om_citus_lock_step(trigdata, cols), 1);
	else
	{
		if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
			elog(ERROR, "SPI_register_trigger_data failed");
		mark.left = CountRowEvents();
		if (mark.left > 1)
			LockStatementRows();
		mark.left = Max(mark.left, 1);
	}
	mark.left--;
	return mark;
}

/*
 * orders_after (AFTER UPDATE, per row): the transition events, then the
 * side effects in a fixed order (see the file header): order status
 * effects, shipment, payment deadlines, automation, reward reversal.  The
 * first row event of a multi-row statement first locks what all of the
 * statement's effects take (EnterStatement).
 */
PG_FUNCTION_INFO_V1(om_orders_after);
Datum
om_orders_after(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	OrderChange ch;
	StatementMark mark;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"orders_after\" was not called by trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("orders_after must be fired AFTER UPDATE FOR EACH ROW")));

	cols = om_order_cols(trigdata->tg_relation);
	ch.td = RelationGetDescr(trigdata->tg_relation);
	ch.oldtup = trigdata->tg_trigtuple;
	ch.newtup = trigdata->tg_newtuple;
	ch.shop_id = om_row_int64(ch.newtup, ch.td, cols->shop_id);
	ch.order_id = om_row_int64(ch.newtup, ch.td, cols->order_id);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	mark = EnterStatement(trigdata);
	statement = mark;

	WriteTransitionEvents(&ch);
	OrderStatusEffects(&ch);	/* promo before stock (lock order) */
	CommitShipment(&ch);
	PaymentDeadlines(&ch);
	TrackAutomation(&ch);
	ReverseRewards(&ch);
	if (ch.from[OM_MACHINE_DELIVERY] != DS_COLLECTED && ch.to[OM_MACHINE_DELIVERY] == DS_COLLECTED)
		om_cod_collected(ch.shop_id, ch.order_id);	/* cod.c: last, it moves payment */

	/* the effects may have run statements of their own: ours again */
	statement = mark;
	SPI_finish();
	return PointerGetDatum(NULL);
}
