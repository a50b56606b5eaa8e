/*-------------------------------------------------------------------------
 *
 * order_guard.c
 *	  The BEFORE triggers that make the database the referee (SPEC
 *	  principle 1).
 *
 * orders_guard (BEFORE INSERT OR UPDATE, per row) refuses every write to
 * order_mgmt.orders that the status machines (machines.c) or the
 * cross-status rules of SPEC §3 do not allow, whatever path it comes by,
 * and stamps the row (updated_at, paid_at, shipped_at, ...) through an
 * OmRowEdit (order_row.c).  An UPDATE is judged in named steps, always in
 * the same order so that a bad write always gets the same first error
 * (GuardUpdate lists them).  It runs after the row is locked, on the
 * newest row version (READ COMMITTED re-checks concurrent updates through
 * EvalPlanQual), so two sessions racing to move one order are judged in
 * the order their row locks were granted.
 *
 * The AFTER UPDATE trigger orders_after (order_effects.c) then writes the
 * transition events and does the side effects.
 *
 * forbid_change (BEFORE DELETE per row, BEFORE TRUNCATE, and BEFORE UPDATE
 * on the event log) keeps orders and their history forever (SPEC §10).
 *
 * order_line_stamp (BEFORE INSERT on order_line, when ordered_at is left
 * out) copies the order's creation time onto a line written by hand.
 *
 * Locking: these triggers take no locks beyond the row being written;
 * what they read (an order's lines and SKUs, an order's creation time)
 * they read without locking.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "commands/trigger.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "clock.h"
#include "context.h"
#include "icu.h"
#include "machines.h"
#include "money.h"
#include "om_errcodes.h"
#include "order_row.h"
#include "spi_util.h"


/* The column numbers of order_mgmt.orders, set at each trigger's entry. */
static const OrderCols *cols;

static Datum
Get(HeapTuple tuple, TupleDesc td, AttrNumber attnum, bool *isnull)
{
	return heap_getattr(tuple, attnum, td, isnull);
}

static bool
IsNull(HeapTuple tuple, TupleDesc td, AttrNumber attnum)
{
	return heap_attisnull(tuple, attnum, td);
}

/* The delivery status an order of this logistics kind starts in (SPEC §3.3). */
static int
InitialDelivery(HeapTuple tuple, TupleDesc td)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, cols->logistics, td, &isnull);

	if (isnull || strcmp(om_enum_label(d), "standard") == 0)
		return DS_UNFULFILLED;
	return DS_NOT_EXECUTED;		/* integrated, cod */
}

static bool
IsCod(HeapTuple tuple, TupleDesc td)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, cols->logistics, td, &isnull);

	return !isnull && strcmp(om_enum_label(d), "cod") == 0;
}

/* Recompute email_key = normalize_email(email). */
static void
StampEmailKey(OmRowEdit *edit, HeapTuple tuple, TupleDesc td)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, cols->email, td, &isnull);

	if (isnull)
		om_edit_set(edit, cols->email_key, (Datum) 0, true);
	else
		om_edit_set(edit, cols->email_key,
				CStringGetTextDatum(om_normalize(TextDatumGetCString(d), true)),
				false);
}

static void
CheckTriggerProtocol(FunctionCallInfo fcinfo, const char *funcname)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager", funcname)));
}

/*
 * BEFORE INSERT: a new order starts in the first state of each machine.
 */
static HeapTuple
GuardInsert(TriggerData *trigdata)
{
	TupleDesc	td = RelationGetDescr(trigdata->tg_relation);
	HeapTuple	newtup = trigdata->tg_trigtuple;
	TimestampTz now = om_now();
	OmRowEdit		edit;
	int			first_delivery = InitialDelivery(newtup, td);
	int			status,
				payment,
				delivery;
	bool		trusted;

	/*
	 * A superuser's own INSERT (not one made by an order_mgmt function) is
	 * taken as it is, filling only what is missing: that is how pg_restore
	 * brings orders back, and a superuser can switch triggers off anyway.
	 * Every other role's new order starts in the first state of each
	 * machine.  (The trigger runs as its owner, so ask about the caller.)
	 */
	trusted = superuser_arg(GetOuterUserId()) && om_act()->api_depth == 0;

	om_edit_init(&edit, td);

	if (IsNull(newtup, td, cols->delivery_status))
	{
		om_edit_set(&edit, cols->delivery_status,
				om_state_to_datum(OM_MACHINE_DELIVERY,
								  TupleDescAttr(td, cols->delivery_status - 1)->atttypid,
								  first_delivery), false);
		delivery = first_delivery;
	}
	else
		delivery = om_row_state(newtup, td, cols->delivery_status, OM_MACHINE_DELIVERY);
	status = om_row_state(newtup, td, cols->status, OM_MACHINE_ORDER);
	payment = om_row_state(newtup, td, cols->payment_status, OM_MACHINE_PAYMENT);

	if (!trusted &&
		(status != OS_PENDING || payment != PS_UNPAID || delivery != first_delivery ||
		 !IsNull(newtup, td, cols->archived_at)))
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("invalid initial status for a new order"),
				 errdetail("A new order starts pending, unpaid, %s and not archived; got %s, %s, %s%s.",
						   om_state_name(OM_MACHINE_DELIVERY, first_delivery),
						   om_state_name(OM_MACHINE_ORDER, status),
						   om_state_name(OM_MACHINE_PAYMENT, payment),
						   om_state_name(OM_MACHINE_DELIVERY, delivery),
						   IsNull(newtup, td, cols->archived_at) ? "" : ", archived"),
				 errhint("Create orders with order_mgmt.checkout().")));

	if (IsNull(newtup, td, cols->created_at))
		om_edit_set(&edit, cols->created_at, TimestampTzGetDatum(now), false);
	if (!trusted || IsNull(newtup, td, cols->updated_at))
		om_edit_set(&edit, cols->updated_at, TimestampTzGetDatum(now), false);
	if (IsNull(newtup, td, cols->order_no))
		om_edit_set(&edit, cols->order_no,
				CStringGetTextDatum(psprintf(INT64_FORMAT,
													 om_row_int64(newtup, td, cols->order_id))),
				false);
	if (!trusted || IsNull(newtup, td, cols->email_key))
		StampEmailKey(&edit, newtup, td);
	if (!trusted)
	{
		/* cancellation fields belong to cancelled orders only */
		om_edit_set(&edit, cols->cancelled_at, (Datum) 0, true);
		om_edit_set(&edit, cols->cancel_source, (Datum) 0, true);
		om_edit_set(&edit, cols->cancel_reason, (Datum) 0, true);
	}

	return om_edit_apply(&edit, newtup);
}

static bool
ColumnChanged(HeapTuple oldtup, HeapTuple newtup, TupleDesc td, AttrNumber attnum)
{
	Form_pg_attribute att = TupleDescAttr(td, attnum - 1);
	bool		oldnull,
				newnull;
	Datum		oldval = heap_getattr(oldtup, attnum, td, &oldnull);
	Datum		newval = heap_getattr(newtup, attnum, td, &newnull);

	if (oldnull || newnull)
		return oldnull != newnull;
	return !datum_image_eq(oldval, newval, att->attbyval, att->attlen);
}

/*
 * Columns only order_mgmt's functions change (api_depth > 0 in the acting context): money,
 * deadlines and the promo code, which they keep consistent with payments,
 * stock and the ledgers.  A plain UPDATE may not (SPEC principle 1).
 */
static const char *const api_only_columns[] = {
	"customer_id", "logistics", "currency", "subtotal", "discount", "shipping_fee",
	"total", "paid_amount", "refunded_amount", "promo_code", "promo_key",
	"payment_due_at", "hold_until", "created_at", "reactivated_at",
	"idempotency_key", "credit_applied"
};

static void
CheckApiOnlyColumns(HeapTuple oldtup, HeapTuple newtup, TupleDesc td, int64 order_id)
{
	int			i;

	if (om_act()->api_depth > 0)
		return;
	for (i = 0; i < lengthof(api_only_columns); i++)
	{
		int			attnum = SPI_fnumber(td, api_only_columns[i]);

		if (attnum > 0 && ColumnChanged(oldtup, newtup, td, attnum))
			ereport(ERROR,
					(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
					 errmsg("cannot change %s of order " INT64_FORMAT " directly",
							api_only_columns[i], order_id),
					 errdetail("The customer, money, deadlines and the promo code of an order change only through order_mgmt's functions, which keep them consistent with payments, stock and the ledgers."),
					 errhint("Use order_mgmt.payment_succeeded(), mark_paid(), refund() or add_lines(); if the row was read before the order last changed, reload it.")));
	}
}

/*
 * Columns an archived order may still change (SPEC §10: notes), and the
 * e-mail blanked by an erasure (issue 18: erase_customer, erase_guest).
 */
static bool
ChangeableWhileArchived(HeapTuple newtup, TupleDesc td, AttrNumber attnum)
{
	return attnum == cols->updated_at || attnum == cols->admin_note ||
		attnum == cols->shipping_note || attnum == cols->customer_note ||
		attnum == cols->consulted_support || attnum == cols->archived_at ||
		((attnum == cols->email || attnum == cols->email_key) && IsNull(newtup, td, attnum));
}


static bool
OnHold(HeapTuple tuple, TupleDesc td, TimestampTz now)
{
	bool		isnull;
	Datum		hold = heap_getattr(tuple, cols->hold_until, td, &isnull);

	return !isnull && DatumGetTimestampTz(hold) > now;
}

/* Are all the order's lines digital goods? */
static bool
AllDigital(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	Datum		values[2];
	bool		isnull;
	bool		result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&plan,
			"SELECT coalesce(bool_and(k.digital), false) FROM order_mgmt.order_line l"
			" JOIN order_mgmt.sku k ON k.shop_id = l.shop_id AND k.sku = l.sku"
			" WHERE l.shop_id = $1 AND l.order_id = $2",
			2, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	om_exec(plan, values, NULL, true, 1);
	result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return result;
}

static void
RefuseMove(int64 order_id, OmMachine machine, int from, int to)
{
	ereport(ERROR,
			(errcode(ERRCODE_OM_INVALID_TRANSITION),
			 errmsg("invalid transition of order " INT64_FORMAT ": %s %s to %s",
					order_id, om_machine_name(machine),
					om_state_name(machine, from), om_state_name(machine, to)),
			 errdetail("Machine %s has no move from \"%s\" to \"%s\".",
					   om_machine_name(machine),
					   om_state_name(machine, from), om_state_name(machine, to)),
			 om_act()->api_depth == 0 ?
			 errhint("The allowed moves are listed in the view order_mgmt.transitions; if the row was read before the order last changed, reload it.") :
			 errhint("The allowed moves are listed in the view order_mgmt.transitions.")));
}

/*
 * One UPDATE of an order as GuardUpdate judges it: the two row versions,
 * the clock, the archive flag and each machine's state before and after.
 * The new_* states are what the row will hold, including the moves the
 * guard makes itself (ImplyMoves).
 */
typedef struct GuardMove
{
	TupleDesc	td;
	HeapTuple	oldtup;
	HeapTuple	newtup;
	int64		order_id;
	TimestampTz now;
	bool		was_archived;	/* archived before the UPDATE */
	bool		archived;		/* archived after it */
	int			old_status,
				new_status,
				old_pay,
				new_pay,
				old_del,
				new_del;
} GuardMove;

/*
 * Keys never change: shop_id and order_id are the order's identity.
 * Raises OM_ORDER_NOT_MODIFIABLE.
 */
static void
CheckKeysKept(const GuardMove *mv)
{
	if (ColumnChanged(mv->oldtup, mv->newtup, mv->td, cols->shop_id) ||
		ColumnChanged(mv->oldtup, mv->newtup, mv->td, cols->order_id))
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
				 errmsg("cannot change the key of order " INT64_FORMAT, mv->order_id),
				 errdetail("shop_id and order_id of an order never change.")));
}

/*
 * An archived order refuses everything but notes and unarchiving (SPEC
 * §10): the first other column that changes, in column order, raises
 * OM_ORDER_ARCHIVED; so does a new archive time.  Does nothing for an
 * order that was not archived.
 */
static void
CheckArchivedOrder(const GuardMove *mv)
{
	TupleDesc	td = mv->td;
	int			i;

	if (!mv->was_archived)
		return;
	for (i = 1; i <= td->natts; i++)
	{
		if (TupleDescAttr(td, i - 1)->attisdropped || ChangeableWhileArchived(mv->newtup, td, i))
			continue;
		if (ColumnChanged(mv->oldtup, mv->newtup, td, i))
			ereport(ERROR,
					(errcode(ERRCODE_OM_ORDER_ARCHIVED),
					 errmsg("order " INT64_FORMAT " is archived", mv->order_id),
					 errdetail("Archived orders refuse changes other than notes and unarchiving; column \"%s\" was to change.",
							   NameStr(TupleDescAttr(td, i - 1)->attname)),
					 errhint("Unarchive it first with order_mgmt.unarchive().")));
	}
	if (mv->archived && ColumnChanged(mv->oldtup, mv->newtup, td, cols->archived_at))
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_ARCHIVED),
				 errmsg("order " INT64_FORMAT " is archived", mv->order_id),
				 errdetail("Its archive time cannot be changed."),
				 errhint("Unarchive it first with order_mgmt.unarchive().")));
}

/*
 * Read each machine's state before and after the UPDATE into mv, old
 * before new and order, payment, delivery in turn, so that a NULL status
 * is reported for the first such column (om_row_state).
 */
static void
ReadStates(GuardMove *mv)
{
	mv->old_status = om_row_state(mv->oldtup, mv->td, cols->status, OM_MACHINE_ORDER);
	mv->new_status = om_row_state(mv->newtup, mv->td, cols->status, OM_MACHINE_ORDER);
	mv->old_pay = om_row_state(mv->oldtup, mv->td, cols->payment_status, OM_MACHINE_PAYMENT);
	mv->new_pay = om_row_state(mv->newtup, mv->td, cols->payment_status, OM_MACHINE_PAYMENT);
	mv->old_del = om_row_state(mv->oldtup, mv->td, cols->delivery_status, OM_MACHINE_DELIVERY);
	mv->new_del = om_row_state(mv->newtup, mv->td, cols->delivery_status, OM_MACHINE_DELIVERY);
}

/* This UPDATE ends the order's post-purchase hold (hold_until cleared). */
static bool
HoldEnds(const GuardMove *mv)
{
	return !IsNull(mv->oldtup, mv->td, cols->hold_until) &&
		IsNull(mv->newtup, mv->td, cols->hold_until);
}

/* The order's store credit in the new row version. */
static Numeric
CreditApplied(const GuardMove *mv)
{
	return om_row_credit_applied(mv->newtup, mv->td, cols);
}

/*
 * Was the order paid with store credit only, and is no money left with
 * the shop: credit spent, paid_amount = refunded_amount?
 */
static bool
CreditOnly(const GuardMove *mv)
{
	bool		isnull;

	return om_num_cmp(CreditApplied(mv), om_num_int(0)) > 0 &&
		om_num_cmp(DatumGetNumeric(Get(mv->newtup, mv->td, cols->paid_amount, &isnull)),
				   DatumGetNumeric(Get(mv->newtup, mv->td, cols->refunded_amount, &isnull))) == 0;
}

/*
 * The moves the guard makes itself, set in *edit and in mv's new_* states
 * so that the checks after it judge them too: cancelling a paid order
 * moves its payment to refunding (SPEC §6), a fully returned and refunded
 * order is completed (SPEC §10), and paying for an order of
 * digital goods only, not on hold, or the end of the hold of such an
 * order paid during it, collects it (SPEC §9, seed 004; this reads the
 * order's lines through SPI).
 */
static void
ImplyMoves(GuardMove *mv, OmRowEdit *edit)
{
	TupleDesc	td = mv->td;

	/*
	 * Cancelling a paid order means its money is owed back (SPEC §6).  An
	 * order paid with store credit only has no money to owe: its credit
	 * goes back at once (orders_after), so its payment is refunded.
	 */
	if (mv->new_status == OS_CANCELLED && mv->old_status != OS_CANCELLED &&
		mv->new_pay == mv->old_pay &&
		(mv->old_pay == PS_PAID || mv->old_pay == PS_PARTIALLY_REFUNDED))
	{
		mv->new_pay = CreditOnly(mv) ? PS_REFUNDED : PS_REFUNDING;
		om_edit_set(edit, cols->payment_status,
					om_state_to_datum(OM_MACHINE_PAYMENT,
									  TupleDescAttr(td, cols->payment_status - 1)->atttypid,
									  mv->new_pay), false);
	}

	/*
	 * A fully returned and fully refunded order is closed: completed, so
	 * that it reaches a final state and auto-archive takes it (SPEC §10,
	 * issue 17).  Made by whichever of the two moves comes last.
	 */
	if ((mv->new_status == OS_PENDING || mv->new_status == OS_CONFIRMED) &&
		mv->new_status == mv->old_status &&
		mv->new_pay == PS_REFUNDED && mv->new_del == DS_RETURNED &&
		(mv->old_pay != PS_REFUNDED || mv->old_del != DS_RETURNED))
	{
		mv->new_status = OS_COMPLETED;
		om_edit_set(edit, cols->status,
					om_state_to_datum(OM_MACHINE_ORDER,
									  TupleDescAttr(td, cols->status - 1)->atttypid,
									  OS_COMPLETED), false);
	}

	/*
	 * Digital goods fulfil themselves when paid, or, paid during a
	 * post-purchase hold, when the hold ends (SPEC §9, seed 004).
	 */
	if (mv->new_pay == PS_PAID && mv->new_del == mv->old_del &&
		mv->new_del == DS_UNFULFILLED && mv->new_status != OS_CANCELLED &&
		((mv->old_pay != PS_PAID && !OnHold(mv->oldtup, td, mv->now)) ||
		 HoldEnds(mv)) &&
		AllDigital(om_row_int64(mv->newtup, td, cols->shop_id), mv->order_id))
	{
		mv->new_del = DS_COLLECTED;
		om_edit_set(edit, cols->delivery_status,
					om_state_to_datum(OM_MACHINE_DELIVERY,
									  TupleDescAttr(td, cols->delivery_status - 1)->atttypid,
									  DS_COLLECTED), false);
	}
}

/*
 * Each machine's move must be in its transition table (machines.c),
 * checked for order_status, payment_status, then delivery_status; the
 * first move that is not raises OM_INVALID_TRANSITION (RefuseMove).
 */
static void
CheckMachineMoves(const GuardMove *mv)
{
	if (!om_move_allowed(OM_MACHINE_ORDER, mv->old_status, mv->new_status))
		RefuseMove(mv->order_id, OM_MACHINE_ORDER, mv->old_status, mv->new_status);
	if (!om_move_allowed(OM_MACHINE_PAYMENT, mv->old_pay, mv->new_pay))
		RefuseMove(mv->order_id, OM_MACHINE_PAYMENT, mv->old_pay, mv->new_pay);
	if (om_act()->api_depth == 0 && om_move_api_only(OM_MACHINE_PAYMENT, mv->old_pay, mv->new_pay))
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("invalid transition of order " INT64_FORMAT ": payment_status %s to %s", mv->order_id,
						om_state_name(OM_MACHINE_PAYMENT, mv->old_pay),
						om_state_name(OM_MACHINE_PAYMENT, mv->new_pay)),
				 errdetail("Only order_mgmt.edit_order() makes this move, when an edit changes the amount due."),
				 errhint("Use order_mgmt.edit_order().")));
	if (!om_move_allowed(OM_MACHINE_DELIVERY, mv->old_del, mv->new_del))
		RefuseMove(mv->order_id, OM_MACHINE_DELIVERY, mv->old_del, mv->new_del);
}

/*
 * A cancelled order has not shipped (SPEC §3): cancelling is allowed only
 * while delivery is pre-shipment, and a cancelled order cannot ship.
 * Raises OM_INVALID_TRANSITION.
 */
static void
CheckCancelBeforeShipment(const GuardMove *mv)
{
	if (mv->new_status != OS_CANCELLED || om_delivery_pre_shipment(mv->new_del))
		return;
	if (mv->old_status != OS_CANCELLED)
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot cancel order " INT64_FORMAT ": it has shipped", mv->order_id),
				 errdetail("Machine order_status refuses %s to cancelled while delivery is \"%s\"; cancelling is allowed only before shipment (unfulfilled, not_executed, shipment_cancelled, shipping_overdue).",
						   om_state_name(OM_MACHINE_ORDER, mv->old_status),
						   om_state_name(OM_MACHINE_DELIVERY, mv->new_del)),
				 errhint("Take the goods back with a return instead.")));
	else
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot ship cancelled order " INT64_FORMAT, mv->order_id),
				 errdetail("Machine delivery_status refuses %s to %s while the order is cancelled.",
						   om_state_name(OM_MACHINE_DELIVERY, mv->old_del),
						   om_state_name(OM_MACHINE_DELIVERY, mv->new_del)),
				 errhint("Reactivate the order first with order_mgmt.reactivate().")));
}

/*
 * partially_shipped says which lines went out in which package (issue 17
 * item 9): only the package functions, which record the packages, move
 * an order there (ship_package).  A plain UPDATE may move it on (the rest
 * ships, and its held stock is committed), not into it.  Raises
 * OM_INVALID_TRANSITION.
 */
static void
CheckPartialShipment(const GuardMove *mv)
{
	if (mv->new_del == DS_PARTIALLY_SHIPPED && mv->old_del != DS_PARTIALLY_SHIPPED &&
		om_act()->api_depth == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot move delivery of order " INT64_FORMAT " to partially_shipped directly",
						mv->order_id),
				 errdetail("An order is partially shipped when some of its lines went out in a package; the package records which."),
				 errhint("Use order_mgmt.ship_package().")));
}

/*
 * Completing an order needs it paid (paid or partially_refunded), fully
 * returned and refunded (SPEC §10), or a cod order collected (SPEC §3).  Raises OM_INVALID_TRANSITION.
 */
static void
CheckCompletionPaid(const GuardMove *mv)
{
	if (mv->new_status == OS_COMPLETED && mv->old_status != OS_COMPLETED &&
		!(mv->new_pay == PS_PAID || mv->new_pay == PS_PARTIALLY_REFUNDED ||
		  (mv->new_pay == PS_REFUNDED && mv->new_del == DS_RETURNED) ||
		  (mv->new_del == DS_COLLECTED && IsCod(mv->newtup, mv->td))))
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot complete order " INT64_FORMAT ": it is not paid", mv->order_id),
				 errdetail("Machine order_status refuses %s to completed while payment is \"%s\" and delivery is \"%s\"; completing needs payment paid or partially_refunded, a fully returned and refunded order, or a cod order whose delivery is collected.",
						   om_state_name(OM_MACHINE_ORDER, mv->old_status),
						   om_state_name(OM_MACHINE_PAYMENT, mv->new_pay),
						   om_state_name(OM_MACHINE_DELIVERY, mv->new_del))));
}

/*
 * Optimistic concurrency (lock_version): every UPDATE of an order adds
 * one to it.  A writer that leaves it alone, or sets it to the value it
 * read plus one (what Rails' lock_version and SQLAlchemy's version_id_col
 * send), is current; one that writes any other value read the row before
 * it last changed, and would roll that change back.  Raises
 * OM_ORDER_NOT_MODIFIABLE.  Does nothing on a 0.1.0 schema.
 */
static void
CheckVersion(const GuardMove *mv)
{
	bool		isnull;
	int64		was,
				got;

	if (cols->lock_version == InvalidAttrNumber)
		return;
	was = DatumGetInt64(Get(mv->oldtup, mv->td, cols->lock_version, &isnull));
	got = DatumGetInt64(Get(mv->newtup, mv->td, cols->lock_version, &isnull));
	if (isnull || (got != was && got != was + 1))
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
				 errmsg("order " INT64_FORMAT " was changed after this row was read", mv->order_id),
				 isnull ?
				 errdetail("lock_version must not be null; it is " INT64_FORMAT ".", was) :
				 errdetail("Its lock_version is " INT64_FORMAT "; the write carries " INT64_FORMAT ", so it would undo the changes made since.",
						   was, got),
				 errhint("Reload the order and apply the change again.")));
}

/*
 * The columns the guard stamps when a status moves, each with the move
 * that may change it: a plain UPDATE may set or clear them only in the
 * UPDATE that makes that move.  Anything else is a stale row written back
 * (an ORM saving an object read before the move) or an edit of history.
 */
typedef enum StampMove
{
	STAMP_CANCEL,				/* status to cancelled */
	STAMP_PAID,					/* payment to paid */
	STAMP_SHIPPED,				/* delivery out of pre-shipment */
	STAMP_COMPLETED,			/* status to completed */
	STAMP_DELIVERED				/* delivery first arrived or collected */
} StampMove;

typedef struct StampedColumn
{
	const char *name;
	StampMove	move;
} StampedColumn;

static const StampedColumn stamped_columns[] = {
	{"cancelled_at", STAMP_CANCEL},
	{"cancel_source", STAMP_CANCEL},
	{"cancel_reason", STAMP_CANCEL},
	{"cancel_note", STAMP_CANCEL},
	{"paid_at", STAMP_PAID},
	{"shipped_at", STAMP_SHIPPED},
	{"completed_at", STAMP_COMPLETED},
	{"delivered_at", STAMP_DELIVERED},
};

static const char *const stamp_move_names[] = {
	[STAMP_CANCEL] = "cancelling the order",
	[STAMP_PAID] = "the payment reaching paid",
	[STAMP_SHIPPED] = "the delivery leaving pre-shipment",
	[STAMP_COMPLETED] = "completing the order",
	[STAMP_DELIVERED] = "the delivery first reaching arrived or collected",
};

/*
 * Does this UPDATE bring the order's delivery to arrived or collected for
 * the first time (delivered_at still NULL)?  Never on a 0.1.0 schema.
 */
static bool
FirstDelivered(const GuardMove *mv)
{
	return cols->delivered_at != InvalidAttrNumber &&
		mv->new_del != mv->old_del &&
		(mv->new_del == DS_ARRIVED || mv->new_del == DS_COLLECTED) &&
		IsNull(mv->oldtup, mv->td, cols->delivered_at);
}

/*
 * Does this UPDATE make the move that stamps a column?  Only the stamping
 * move lets the writer give the column: when a reactivation clears the
 * cancellation's columns, the guard clears them, and a writer that wrote
 * them itself (NULLs read before the cancellation) is writing back a
 * stale row.
 */
static bool
MakesMove(const GuardMove *mv, StampMove move)
{
	switch (move)
	{
		case STAMP_CANCEL:
			return mv->new_status == OS_CANCELLED && mv->old_status != OS_CANCELLED;
		case STAMP_PAID:
			return mv->new_pay == PS_PAID && mv->old_pay != PS_PAID;
		case STAMP_SHIPPED:
			return om_delivery_pre_shipment(mv->old_del) && !om_delivery_pre_shipment(mv->new_del);
		case STAMP_COMPLETED:
			return mv->new_status == OS_COMPLETED && mv->old_status != OS_COMPLETED;
		case STAMP_DELIVERED:
			return FirstDelivered(mv);
	}
	return false;
}

/*
 * A plain UPDATE (api_depth 0) changes a stamped column only with the
 * move that stamps it.  Raises OM_ORDER_NOT_MODIFIABLE, naming the column.
 */
static void
CheckStampedColumns(const GuardMove *mv)
{
	int			i;

	if (om_act()->api_depth > 0)
		return;
	for (i = 0; i < lengthof(stamped_columns); i++)
	{
		const StampedColumn *c = &stamped_columns[i];
		int			attnum = SPI_fnumber(mv->td, c->name);

		if (attnum > 0 && !MakesMove(mv, c->move) &&
			ColumnChanged(mv->oldtup, mv->newtup, mv->td, attnum))
			ereport(ERROR,
					(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
					 errmsg("cannot change %s of order " INT64_FORMAT " directly", c->name, mv->order_id),
					 errdetail("%s records %s; this UPDATE does not make that move.",
							   c->name, stamp_move_names[c->move]),
					 errhint("If the row was read before the order last changed, reload it and apply the change again.")));
	}
}

/*
 * The money columns are the truth (SPEC §1.2): the payment status a plain
 * UPDATE leaves must agree with them as the API would have set it.  With
 * owed = paid_amount - refunded_amount and due = total - credit_applied
 * (store credit is a tender that lowers the money due):
 *
 *	unpaid, pending, failed	owed < due, or nothing paid at all
 *	paid					owed >= due, and the order is not cancelled
 *	partially_refunded		0 < refunded_amount < paid_amount, not cancelled
 *	refunding				owed > 0 (money to return), or nothing paid
 *	refunded				refunded_amount = paid_amount > 0, or = 0 with
 *							store credit spent (paid with credit only)
 *
 * so a cancelled order with money not returned rests in refunding.
 * Judged when a plain UPDATE moves the order or its payment; order_mgmt's
 * own functions set the money and the status together.  Raises
 * OM_INVALID_TRANSITION with the amounts.
 */
static void
CheckMoneyAgrees(const GuardMove *mv)
{
	bool		isnull;
	Numeric		paid,
				refunded,
				total,
				credit,
				due,
				owed,
				zero = om_num_int(0);
	bool		nothing_paid,
				cancelled = mv->new_status == OS_CANCELLED,
				ok = true;
	const char *needs = NULL;

	if (om_act()->api_depth > 0 ||
		(mv->new_pay == mv->old_pay && mv->new_status == mv->old_status))
		return;
	paid = DatumGetNumeric(Get(mv->newtup, mv->td, cols->paid_amount, &isnull));
	refunded = DatumGetNumeric(Get(mv->newtup, mv->td, cols->refunded_amount, &isnull));
	total = DatumGetNumeric(Get(mv->newtup, mv->td, cols->total, &isnull));
	credit = CreditApplied(mv);
	due = om_num_sub(total, credit);
	owed = om_num_sub(paid, refunded);
	nothing_paid = om_num_cmp(paid, zero) == 0;

	switch (mv->new_pay)
	{
		case PS_UNPAID:
		case PS_PENDING:
		case PS_FAILED:
			ok = nothing_paid || om_num_cmp(owed, due) < 0;
			needs = "the payments, less refunds, below the total";
			break;
		case PS_PAID:
			ok = om_num_cmp(owed, due) >= 0 && !cancelled;
			needs = cancelled ? "an order that is not cancelled (a cancelled order's money is owed back: refunding)" :
				"payments, less refunds, that cover the total";
			break;
		case PS_PARTIALLY_REFUNDED:
			ok = om_num_cmp(refunded, zero) > 0 && om_num_cmp(refunded, paid) < 0 && !cancelled;
			needs = cancelled ? "an order that is not cancelled (a cancelled order's money is owed back: refunding)" :
				"a refund of part of the money paid";
			break;
		case PS_REFUNDING:
			ok = nothing_paid || om_num_cmp(owed, zero) > 0;
			needs = "money paid and not yet refunded";
			break;
		case PS_REFUNDED:
			ok = om_num_cmp(refunded, paid) == 0 &&
				(!nothing_paid || om_num_cmp(credit, zero) > 0);
			needs = "all the money paid refunded";
			break;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("payment of order " INT64_FORMAT " cannot be %s: the money says otherwise",
						mv->order_id, om_state_name(OM_MACHINE_PAYMENT, mv->new_pay)),
				 errdetail("Payment %s needs %s; the order is %s, paid %s, refunded %s, total %s%s.",
						   om_state_name(OM_MACHINE_PAYMENT, mv->new_pay), needs,
						   om_state_name(OM_MACHINE_ORDER, mv->new_status),
						   om_num_text(paid), om_num_text(refunded), om_num_text(total),
						   om_num_cmp(credit, zero) > 0 ?
						   psprintf(" of which store credit pays %s", om_num_text(credit)) : ""),
				 errhint("Record money with order_mgmt.payment_succeeded(), mark_paid() or refund(); if the row was read before the order last changed, reload it.")));
}

/*
 * Who may claim a cancellation's source on the plain UPDATE path: customer
 * and system are claims only customer_cancel() (its rules, SPEC §8) and
 * the sweeper make, so a plain UPDATE may make them only as a superuser.
 * Raises 42501.
 */
static void
CheckCancelSource(const GuardMove *mv)
{
	bool		isnull;
	Datum		d;
	char	   *source;

	if (om_act()->api_depth > 0 || mv->new_status != OS_CANCELLED ||
		mv->old_status == OS_CANCELLED || superuser_arg(GetOuterUserId()))
		return;
	d = Get(mv->newtup, mv->td, cols->cancel_source, &isnull);
	if (isnull)
		return;
	source = om_enum_label(d);
	if (strcmp(source, "merchant") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot cancel order " INT64_FORMAT " with source %s", mv->order_id, source),
				 errdetail("Only order_mgmt.customer_cancel() cancels for the customer, and only the sweeper or a superuser for the system."),
				 errhint("Cancel as the merchant, or let the customer call order_mgmt.customer_cancel().")));
}

/*
 * Reactivating a cancelled order needs its payment unpaid, pending or
 * failed: no money has moved (SPEC §3, §7).  Raises OM_INVALID_TRANSITION.
 */
static void
CheckReactivation(const GuardMove *mv)
{
	if (mv->old_status == OS_CANCELLED && mv->new_status != OS_CANCELLED &&
		!(mv->old_pay == PS_UNPAID || mv->old_pay == PS_PENDING || mv->old_pay == PS_FAILED))
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot reactivate order " INT64_FORMAT ": its payment is %s",
						mv->order_id, om_state_name(OM_MACHINE_PAYMENT, mv->old_pay)),
				 errdetail("Machine order_status refuses cancelled to %s while payment is \"%s\"; reactivation needs payment unpaid, pending or failed.",
						   om_state_name(OM_MACHINE_ORDER, mv->new_status),
						   om_state_name(OM_MACHINE_PAYMENT, mv->old_pay))));
}

/*
 * A cancelled order starts no payment (SPEC §3).  Raises
 * OM_INVALID_TRANSITION.
 */
static void
CheckNoPaymentWhileCancelled(const GuardMove *mv)
{
	if (mv->new_status == OS_CANCELLED && mv->new_pay == PS_PENDING && mv->old_pay != PS_PENDING)
		ereport(ERROR,
				(errcode(ERRCODE_OM_INVALID_TRANSITION),
				 errmsg("cannot start a payment for cancelled order " INT64_FORMAT, mv->order_id),
				 errdetail("Machine payment_status refuses %s to pending while the order is cancelled.",
						   om_state_name(OM_MACHINE_PAYMENT, mv->old_pay)),
				 errhint("Reactivate the order first with order_mgmt.reactivate().")));
}

/*
 * The hold rule: delivery does not move while the order's post-purchase
 * hold (hold_until of the old row) lasts.  Raises OM_ORDER_ON_HOLD.
 */
static void
CheckHold(const GuardMove *mv)
{
	bool		isnull;
	Datum		hold;

	if (mv->new_del == mv->old_del || !OnHold(mv->oldtup, mv->td, mv->now))
		return;
	hold = Get(mv->oldtup, mv->td, cols->hold_until, &isnull);
	ereport(ERROR,
			(errcode(ERRCODE_OM_ORDER_ON_HOLD),
			 errmsg("cannot move delivery of order " INT64_FORMAT ": it is on hold", mv->order_id),
			 errdetail("The post-purchase hold lasts until %s; delivery stays \"%s\" until then.",
					   timestamptz_to_str(DatumGetTimestampTz(hold)),
					   om_state_name(OM_MACHINE_DELIVERY, mv->old_del))));
}

/*
 * Archiving: only completed and cancelled orders (SPEC §10).  Raises
 * OM_ORDER_NOT_MODIFIABLE.
 */
static void
CheckArchiving(const GuardMove *mv)
{
	if (mv->archived && !mv->was_archived &&
		mv->new_status != OS_COMPLETED && mv->new_status != OS_CANCELLED)
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_NOT_MODIFIABLE),
				 errmsg("cannot archive order " INT64_FORMAT ": it is %s",
						mv->order_id, om_state_name(OM_MACHINE_ORDER, mv->new_status)),
				 errdetail("Only completed and cancelled orders can be archived.")));
}

/*
 * Stamp an order status move into *edit: a cancellation gets its time,
 * source (merchant) and reason (other) unless the writer gave them; a
 * reactivation clears them and the payment deadline and sets
 * reactivated_at; a completion sets completed_at.
 */
static void
StampStatusMove(const GuardMove *mv, OmRowEdit *edit)
{
	TupleDesc	td = mv->td;
	Datum		now = TimestampTzGetDatum(mv->now);

	if (mv->new_status == mv->old_status)
		return;
	if (mv->new_status == OS_CANCELLED)
	{
		Oid			srctype = TupleDescAttr(td, cols->cancel_source - 1)->atttypid;
		Oid			rsntype = TupleDescAttr(td, cols->cancel_reason - 1)->atttypid;

		if (IsNull(mv->newtup, td, cols->cancelled_at))
			om_edit_set(edit, cols->cancelled_at, now, false);
		if (IsNull(mv->newtup, td, cols->cancel_source))
			om_edit_set(edit, cols->cancel_source, om_enum_value(srctype, "merchant"), false);
		if (IsNull(mv->newtup, td, cols->cancel_reason))
			om_edit_set(edit, cols->cancel_reason, om_enum_value(rsntype, "other"), false);
	}
	else if (mv->old_status == OS_CANCELLED)
	{
		/*
		 * Reactivated: the merchant now owns the order, with no payment
		 * deadline (SPEC §7).  The cancellation lives on in the event log.
		 */
		om_edit_set(edit, cols->reactivated_at, now, false);
		om_edit_set(edit, cols->payment_due_at, (Datum) 0, true);
		om_edit_set(edit, cols->cancelled_at, (Datum) 0, true);
		om_edit_set(edit, cols->cancel_source, (Datum) 0, true);
		om_edit_set(edit, cols->cancel_reason, (Datum) 0, true);
		om_edit_set(edit, cols->cancel_note, (Datum) 0, true);
	}
	if (mv->new_status == OS_COMPLETED)
		om_edit_set(edit, cols->completed_at, now, false);
}

/*
 * Stamp the judged row into *edit: updated_at and lock_version + 1 always,
 * email_key when the email (or the key) changed, the status move's columns (StampStatusMove), paid_at
 * (unless given) and no payment deadline on reaching paid, shipped_at
 * (unless given) on leaving pre-shipment delivery, and delivered_at (unless
 * given) on first reaching arrived or collected.
 */
static void
StampRow(const GuardMove *mv, OmRowEdit *edit)
{
	TupleDesc	td = mv->td;
	Datum		now = TimestampTzGetDatum(mv->now);

	om_edit_set(edit, cols->updated_at, now, false);
	if (cols->lock_version != InvalidAttrNumber)
	{
		bool		isnull;
		int64		was = DatumGetInt64(Get(mv->oldtup, td, cols->lock_version, &isnull));

		om_edit_set(edit, cols->lock_version, Int64GetDatum(was + 1), false);
	}
	/* email_key follows email, whatever a writer put there */
	if (ColumnChanged(mv->oldtup, mv->newtup, td, cols->email) ||
		ColumnChanged(mv->oldtup, mv->newtup, td, cols->email_key))
		StampEmailKey(edit, mv->newtup, td);

	StampStatusMove(mv, edit);
	if (mv->new_pay != mv->old_pay && mv->new_pay == PS_PAID)
	{
		if (IsNull(mv->newtup, td, cols->paid_at))
			om_edit_set(edit, cols->paid_at, now, false);
		/* reaching paid clears the payment deadline (SPEC §6) */
		om_edit_set(edit, cols->payment_due_at, (Datum) 0, true);
	}
	if (mv->new_del != mv->old_del && !om_delivery_pre_shipment(mv->new_del) &&
		IsNull(mv->newtup, td, cols->shipped_at))
		om_edit_set(edit, cols->shipped_at, now, false);
	/* the return window counts from the first delivery (SPEC §11) */
	if (FirstDelivered(mv) && IsNull(mv->newtup, td, cols->delivered_at))
		om_edit_set(edit, cols->delivered_at, now, false);
}

/*
 * BEFORE UPDATE: judge the write, then stamp the row.  The checks run in
 * a fixed order, so a write that breaks several rules always gets the
 * same first error: keys, the row's version (a stale write), archived
 * order, API-only columns, the moves the guard implies, the stamped
 * columns, the transition tables, the cross-status rules of SPEC §3 and
 * the money, the cancel source, the hold, archiving.  Returns the row to
 * write.
 */
static HeapTuple
GuardUpdate(TriggerData *trigdata)
{
	GuardMove	mv;
	OmRowEdit	edit;

	mv.td = RelationGetDescr(trigdata->tg_relation);
	mv.oldtup = trigdata->tg_trigtuple;
	mv.newtup = trigdata->tg_newtuple;
	mv.order_id = om_row_int64(mv.oldtup, mv.td, cols->order_id);
	mv.now = om_now();
	mv.was_archived = !IsNull(mv.oldtup, mv.td, cols->archived_at);
	mv.archived = !IsNull(mv.newtup, mv.td, cols->archived_at);

	CheckKeysKept(&mv);
	CheckVersion(&mv);
	CheckArchivedOrder(&mv);
	CheckApiOnlyColumns(mv.oldtup, mv.newtup, mv.td, mv.order_id);
	ReadStates(&mv);

	om_edit_init(&edit, mv.td);
	ImplyMoves(&mv, &edit);
	CheckStampedColumns(&mv);
	CheckMachineMoves(&mv);

	CheckCancelBeforeShipment(&mv);
	CheckPartialShipment(&mv);
	CheckCompletionPaid(&mv);
	CheckMoneyAgrees(&mv);
	CheckReactivation(&mv);
	CheckNoPaymentWhileCancelled(&mv);
	CheckCancelSource(&mv);
	CheckHold(&mv);
	CheckArchiving(&mv);

	StampRow(&mv, &edit);
	return om_edit_apply(&edit, mv.newtup);
}

PG_FUNCTION_INFO_V1(om_orders_guard);
Datum
om_orders_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	result;

	CheckTriggerProtocol(fcinfo, "orders_guard");
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("orders_guard must be fired BEFORE INSERT OR UPDATE FOR EACH ROW")));

	cols = om_order_cols(trigdata->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		result = GuardInsert(trigdata);
	else
		result = GuardUpdate(trigdata);
	return PointerGetDatum(result);
}

/*
 * forbid_change: orders and their history are never deleted, and events
 * never change (SPEC §1 principle 3, §10).
 */
PG_FUNCTION_INFO_V1(om_forbid_change);
Datum
om_forbid_change(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *relname;

	CheckTriggerProtocol(fcinfo, "forbid_change");
	relname = RelationGetRelationName(trigdata->tg_relation);

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OM_ORDER_DELETE_FORBIDDEN),
				 errmsg("cannot update order_mgmt.%s: it is append-only", relname),
				 errdetail("This log records history as it happened; rows are never changed."),
				 errhint("Record a correction as a new event or note.")));

	ereport(ERROR,
			(errcode(ERRCODE_OM_ORDER_DELETE_FORBIDDEN),
			 errmsg("cannot %s order_mgmt.%s: orders and their history are never deleted",
					TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event) ? "truncate" : "delete from",
					relname),
			 strcmp(relname, "orders") == 0 ?
			 errhint("Archive finished orders with order_mgmt.archive() instead.") : 0));
	return PointerGetDatum(NULL);
}

/*
 * order_line_stamp (BEFORE INSERT on order_line, only when ordered_at is
 * NULL): a line carries its order's creation time, so the variant-mix
 * report reads lines by (sku, time) from one index without visiting the
 * orders.  checkout() and add_lines() write it themselves; this fills it
 * for lines written by hand (history imports).
 */
PG_FUNCTION_INFO_V1(om_order_line_stamp);
Datum
om_order_line_stamp(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID};
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	td;
	HeapTuple	newtup;
	Datum		key[2];
	bool		key_null[2];
	int			col;
	bool		isnull;
	bool		found;
	TimestampTz created_at = 0;

	CheckTriggerProtocol(fcinfo, "order_line_stamp");
	td = RelationGetDescr(trigdata->tg_relation);
	newtup = trigdata->tg_trigtuple;
	col = SPI_fnumber(td, "ordered_at");
	if (col <= 0)
		elog(ERROR, "order_mgmt.order_line has no column ordered_at");
	(void) heap_getattr(newtup, col, td, &isnull);
	key[0] = heap_getattr(newtup, SPI_fnumber(td, "shop_id"), td, &key_null[0]);
	key[1] = heap_getattr(newtup, SPI_fnumber(td, "order_id"), td, &key_null[1]);
	/* a NULL key is left to the NOT NULL constraints to report */
	if (!isnull || key_null[0] || key_null[1])
		return PointerGetDatum(newtup);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_plan(&plan,
			"SELECT created_at FROM order_mgmt.orders WHERE shop_id = $1 AND order_id = $2",
			2, argtypes);
	om_exec(plan, key, NULL, false, 1);
	found = SPI_processed > 0;
	if (found)
	{
		/* copied out before SPI_finish frees the tuple */
		created_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 1, &isnull));
		found = !isnull;
	}
	SPI_finish();

	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("order " INT64_FORMAT " does not exist in shop " INT64_FORMAT,
						DatumGetInt64(key[1]), DatumGetInt64(key[0])),
				 errdetail("An order line must belong to an existing order.")));

	{
		int			replace[1] = {col};
		Datum		vals[1] = {TimestampTzGetDatum(created_at)};
		bool		nulls[1] = {false};

		newtup = heap_modify_tuple_by_cols(newtup, td, 1, replace, vals, nulls);
	}
	return PointerGetDatum(newtup);
}
