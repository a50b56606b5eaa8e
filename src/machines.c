/*-------------------------------------------------------------------------
 *
 * machines.c
 *	  The three status machines of SPEC §3, kept in this one place.
 *
 * The transition tables below are the only statement of which moves are
 * allowed.  The guard trigger (order_guard.c) consults them on every write
 * to order_mgmt.orders, and the view order_mgmt.transitions shows them to
 * DBAs through order_mgmt.transition_table().
 *
 * Enum values reach C as pg_enum OIDs.  We map them to the state indexes of
 * machines.h once per backend and enum type, from the syscache, and check
 * that the SQL enum and the C names agree.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/syscache.h"

#include "compat.h"
#include "machines.h"

typedef struct OmMove
{
	OmMachine	machine;
	int			from;
	int			to;
	const char *via;
} OmMove;

static const char *const order_states[] = {
	"pending", "confirmed", "completed", "cancelled"
};
static const char *const payment_states[] = {
	"unpaid", "pending", "paid", "failed", "refunding", "partially_refunded",
	"refunded"
};
static const char *const delivery_states[] = {
	"unfulfilled", "not_executed", "shipment_cancelled", "shipping_overdue",
	"shipping", "shipped", "arrived", "collected", "returning", "returned",
	"partially_shipped"
};

/*
 * nrequired: how many of the states (the first ones) every schema has.
 * The library serves a 0.1.0 schema until ALTER EXTENSION UPDATE, and
 * states added later (appended to the enum) may be missing from it; such a
 * state is never reached there (om_state_to_datum refuses it).
 */
typedef struct OmMachineDef
{
	const char *name;			/* also the enum type's name */
	const char *const *states;
	int			nstates;
	int			nrequired;
} OmMachineDef;

static const OmMachineDef machine_defs[OM_NUM_MACHINES] = {
	{"order_status", order_states, lengthof(order_states), lengthof(order_states)},
	{"payment_status", payment_states, lengthof(payment_states), lengthof(payment_states)},
	{"delivery_status", delivery_states, lengthof(delivery_states), DS_PARTIALLY_SHIPPED},
};

/*
 * SPEC §3: 7 order, 17 payment and 27 delivery moves.  partially_shipped
 * (issue 17 item 9): some lines went out in packages, others wait; the
 * last package moves the order on to shipped (standard) or shipping.
 */
static const OmMove moves[] = {
	{OM_MACHINE_ORDER, OS_PENDING, OS_CONFIRMED, "confirm"},
	{OM_MACHINE_ORDER, OS_PENDING, OS_COMPLETED, "complete, automation rule, returned and refunded"},
	{OM_MACHINE_ORDER, OS_PENDING, OS_CANCELLED, "cancel, customer_cancel, auto-cancel"},
	{OM_MACHINE_ORDER, OS_CONFIRMED, OS_COMPLETED, "complete, automation rule, returned and refunded"},
	{OM_MACHINE_ORDER, OS_CONFIRMED, OS_CANCELLED, "cancel, auto-cancel"},
	{OM_MACHINE_ORDER, OS_CANCELLED, OS_PENDING, "reactivate"},
	{OM_MACHINE_ORDER, OS_CANCELLED, OS_CONFIRMED, "reactivate, late capture"},

	{OM_MACHINE_PAYMENT, PS_UNPAID, PS_PENDING, "payment_started"},
	{OM_MACHINE_PAYMENT, PS_UNPAID, PS_PAID, "payment_succeeded, mark_paid"},
	{OM_MACHINE_PAYMENT, PS_UNPAID, PS_FAILED, "payment_failed, payment deadline"},
	{OM_MACHINE_PAYMENT, PS_PENDING, PS_PAID, "payment_succeeded, mark_paid"},
	{OM_MACHINE_PAYMENT, PS_PENDING, PS_FAILED, "payment_failed, payment deadline"},
	{OM_MACHINE_PAYMENT, PS_FAILED, PS_PENDING, "payment_started (retry)"},
	{OM_MACHINE_PAYMENT, PS_FAILED, PS_PAID, "payment_succeeded, mark_paid"},
	{OM_MACHINE_PAYMENT, PS_PAID, PS_REFUNDING, "cancel of a paid order, late capture"},
	{OM_MACHINE_PAYMENT, PS_PAID, PS_PARTIALLY_REFUNDED, "refund"},
	{OM_MACHINE_PAYMENT, PS_PAID, PS_REFUNDED, "refund"},
	{OM_MACHINE_PAYMENT, PS_REFUNDING, PS_PAID, "refund withdrawn (merchant)"},
	{OM_MACHINE_PAYMENT, PS_REFUNDING, PS_PARTIALLY_REFUNDED, "refund"},
	{OM_MACHINE_PAYMENT, PS_REFUNDING, PS_REFUNDED, "refund"},
	{OM_MACHINE_PAYMENT, PS_PARTIALLY_REFUNDED, PS_REFUNDING, "cancel, late capture"},
	{OM_MACHINE_PAYMENT, PS_PARTIALLY_REFUNDED, PS_PARTIALLY_REFUNDED, "refund"},
	{OM_MACHINE_PAYMENT, PS_PARTIALLY_REFUNDED, PS_REFUNDED, "refund"},
	{OM_MACHINE_PAYMENT, PS_REFUNDED, PS_REFUNDING, "late or duplicate capture"},
	{OM_MACHINE_PAYMENT, PS_PAID, PS_UNPAID, "edit_order raises the amount due"},
	{OM_MACHINE_PAYMENT, PS_PARTIALLY_REFUNDED, PS_UNPAID, "edit_order raises the amount due"},
	{OM_MACHINE_PAYMENT, PS_REFUNDING, PS_UNPAID, "edit_order raises the amount due"},
	{OM_MACHINE_PAYMENT, PS_UNPAID, PS_REFUNDING, "edit_order lowers the amount due below what was paid"},
	{OM_MACHINE_PAYMENT, PS_UNPAID, PS_PARTIALLY_REFUNDED, "edit_order lowers the amount due to what was kept"},

	{OM_MACHINE_DELIVERY, DS_UNFULFILLED, DS_SHIPPING, "set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_UNFULFILLED, DS_SHIPPED, "ship, set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_UNFULFILLED, DS_COLLECTED, "set_delivery_status, digital fulfilment"},
	{OM_MACHINE_DELIVERY, DS_NOT_EXECUTED, DS_SHIPPING, "ship, set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_NOT_EXECUTED, DS_SHIPMENT_CANCELLED, "set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_NOT_EXECUTED, DS_SHIPPING_OVERDUE, "set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_SHIPMENT_CANCELLED, DS_NOT_EXECUTED, "set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_SHIPMENT_CANCELLED, DS_SHIPPING, "ship, set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_SHIPPING_OVERDUE, DS_NOT_EXECUTED, "set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_SHIPPING_OVERDUE, DS_SHIPPING, "ship, set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_SHIPPING_OVERDUE, DS_SHIPMENT_CANCELLED, "set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_SHIPPING, DS_SHIPPED, "set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_SHIPPING, DS_ARRIVED, "set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_SHIPPED, DS_ARRIVED, "set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_SHIPPED, DS_COLLECTED, "set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_SHIPPED, DS_RETURNING, "request_return"},
	{OM_MACHINE_DELIVERY, DS_ARRIVED, DS_COLLECTED, "set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_ARRIVED, DS_RETURNING, "request_return"},
	{OM_MACHINE_DELIVERY, DS_COLLECTED, DS_RETURNING, "request_return"},
	{OM_MACHINE_DELIVERY, DS_RETURNING, DS_RETURNED, "receive_return"},
	{OM_MACHINE_DELIVERY, DS_RETURNING, DS_ARRIVED, "cancel_return, reject_return"},
	{OM_MACHINE_DELIVERY, DS_UNFULFILLED, DS_PARTIALLY_SHIPPED, "ship_package (some lines)"},
	{OM_MACHINE_DELIVERY, DS_NOT_EXECUTED, DS_PARTIALLY_SHIPPED, "ship_package (some lines)"},
	{OM_MACHINE_DELIVERY, DS_SHIPMENT_CANCELLED, DS_PARTIALLY_SHIPPED, "ship_package (some lines)"},
	{OM_MACHINE_DELIVERY, DS_SHIPPING_OVERDUE, DS_PARTIALLY_SHIPPED, "ship_package (some lines)"},
	{OM_MACHINE_DELIVERY, DS_PARTIALLY_SHIPPED, DS_SHIPPING, "ship, ship_package (the last lines), set_delivery_status"},
	{OM_MACHINE_DELIVERY, DS_PARTIALLY_SHIPPED, DS_SHIPPED, "ship, ship_package (the last lines), set_delivery_status"},
};

#define OM_MAX_STATES 11

/*
 * allowed[machine][from][to], built from moves[] on first use, and the
 * pre-shipment delivery states, from OM_PRE_SHIPMENT_SQL (machines.h), so
 * that the C check and the SQL in C statements name the same set.
 */
static bool allowed[OM_NUM_MACHINES][OM_MAX_STATES][OM_MAX_STATES];
static bool pre_shipment[OM_MAX_STATES];
static bool allowed_built = false;

/* Per machine: the enum type last seen and the OID of each of its labels. */
typedef struct OmEnumMap
{
	Oid			enumtype;
	Oid			label_oid[OM_MAX_STATES];
} OmEnumMap;

static OmEnumMap enum_maps[OM_NUM_MACHINES];

static void
BuildAllowed(void)
{
	const char *p = OM_PRE_SHIPMENT_SQL;
	int			i;

	for (i = 0; i < lengthof(moves); i++)
		allowed[moves[i].machine][moves[i].from][moves[i].to] = true;
	/* the quoted labels of "('unfulfilled', 'not_executed', ...)" */
	while ((p = strchr(p, '\'')) != NULL)
	{
		const char *end = strchr(p + 1, '\'');
		char	   *label = pnstrdup(p + 1, end - p - 1);
		int			state = om_state_by_name(OM_MACHINE_DELIVERY, label);

		if (state < 0)
			elog(ERROR, "OM_PRE_SHIPMENT_SQL names an unknown delivery status \"%s\"", label);
		pre_shipment[state] = true;
		pfree(label);
		p = end + 1;
	}
	allowed_built = true;
}

/*
 * Read the labels of enumtype from pg_enum and map them to the states of
 * machine.  The SQL type and the C table must name the same values.
 */
static void
LoadEnumMap(OmMachine machine, Oid enumtype)
{
	const OmMachineDef *def = &machine_defs[machine];
	OmEnumMap	map;
	CatCList   *list;
	int			i;
	int			found = 0;

	memset(&map, 0, sizeof(map));
	list = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(enumtype));
	for (i = 0; i < list->n_members; i++)
	{
		HeapTuple	tup = &list->members[i]->tuple;
		Form_pg_enum en = (Form_pg_enum) GETSTRUCT(tup);
		const char *label = NameStr(en->enumlabel);
		int			s;

		for (s = 0; s < def->nstates; s++)
		{
			if (strcmp(label, def->states[s]) == 0)
			{
				map.label_oid[s] = en->oid;
				found++;
				break;
			}
		}
		if (s == def->nstates)
			elog(ERROR, "enum type %s has label \"%s\" unknown to order_mgmt's C code",
				 def->name, label);
	}
	ReleaseSysCacheList(list);

	/* the states a release added may be missing before ALTER EXTENSION UPDATE */
	for (i = 0; i < def->nrequired; i++)
		if (!OidIsValid(map.label_oid[i]))
			elog(ERROR, "enum type %s has %d labels, order_mgmt's C code expects %d",
				 def->name, found, def->nstates);

	map.enumtype = enumtype;
	enum_maps[machine] = map;
}

const char *
om_machine_name(OmMachine machine)
{
	return machine_defs[machine].name;
}

const char *
om_state_name(OmMachine machine, int state)
{
	Assert(state >= 0 && state < machine_defs[machine].nstates);
	return machine_defs[machine].states[state];
}

/* The state index of a label, or -1. */
int
om_state_by_name(OmMachine machine, const char *name)
{
	int			s;

	for (s = 0; s < machine_defs[machine].nstates; s++)
		if (strcmp(machine_defs[machine].states[s], name) == 0)
			return s;
	return -1;
}

/* The state index of an enum value of machine's type (enumtype). */
int
om_state_from_datum(OmMachine machine, Oid enumtype, Datum value)
{
	OmEnumMap  *map = &enum_maps[machine];
	Oid			oid = DatumGetObjectId(value);
	int			s;

	if (map->enumtype != enumtype)
		LoadEnumMap(machine, enumtype);
	for (s = 0; s < machine_defs[machine].nstates; s++)
		if (map->label_oid[s] == oid)
			return s;
	elog(ERROR, "value %u is not a label of enum type %s", oid,
		 machine_defs[machine].name);
	return -1;					/* keep compiler quiet */
}

/*
 * The enum value (a pg_enum OID) of a state; 55000 for a state the schema
 * does not have yet (a 0.1.0 schema before ALTER EXTENSION UPDATE).
 */
Datum
om_state_to_datum(OmMachine machine, Oid enumtype, int state)
{
	if (enum_maps[machine].enumtype != enumtype)
		LoadEnumMap(machine, enumtype);
	if (!OidIsValid(enum_maps[machine].label_oid[state]))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s \"%s\" needs the schema of order_mgmt 0.2.0",
						machine_defs[machine].name, om_state_name(machine, state)),
				 errhint("Run ALTER EXTENSION order_mgmt UPDATE.")));
	return ObjectIdGetDatum(enum_maps[machine].label_oid[state]);
}

/*
 * Is from -> to an allowed move?  Staying put is not a move and is always
 * allowed; the one listed self-move (a further partial refund) is in the
 * table so that the view shows it.
 */
bool
om_move_allowed(OmMachine machine, int from, int to)
{
	if (!allowed_built)
		BuildAllowed();
	return from == to || allowed[machine][from][to];
}

/*
 * Whether a move is made only by order_mgmt's own functions, never by a
 * plain UPDATE: the payment moves an edit of the order's money makes
 * (edit_order(), issue 18), whose amounts only the edit computes.
 */
bool
om_move_api_only(OmMachine machine, int from, int to)
{
	int			i;

	if (from == to)
		return false;
	for (i = 0; i < lengthof(moves); i++)
		if (moves[i].machine == machine && moves[i].from == from && moves[i].to == to)
			return strncmp(moves[i].via, "edit_order", 10) == 0;
	return false;
}

/* SPEC §3.1: the delivery states before shipment, in which cancelling is allowed. */
bool
om_delivery_pre_shipment(int state)
{
	if (!allowed_built)
		BuildAllowed();
	Assert(state >= 0 && state < OM_MAX_STATES);
	return pre_shipment[state];
}

/*
 * Issue 17 item 9: the states in which an order may still hold stock for
 * lines not shipped yet (OM_UNSHIPPED_SQL): pre-shipment, or partially
 * shipped.  Leaving them commits what is still held.
 */
bool
om_delivery_unshipped(int state)
{
	return state == DS_PARTIALLY_SHIPPED || om_delivery_pre_shipment(state);
}

/* The states a package (a shipment row) moves through, in this order. */
bool
om_delivery_package_state(int state)
{
	return state == DS_SHIPPING || state == DS_SHIPPED || state == DS_ARRIVED ||
		state == DS_COLLECTED;
}

/*
 * transition_table() returns the moves of all three machines; the view
 * order_mgmt.transitions is defined over it.
 */
PG_FUNCTION_INFO_V1(om_transition_table);
Datum
om_transition_table(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < lengthof(moves); i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(om_machine_name(moves[i].machine));
		values[1] = CStringGetTextDatum(om_state_name(moves[i].machine, moves[i].from));
		values[2] = CStringGetTextDatum(om_state_name(moves[i].machine, moves[i].to));
		values[3] = CStringGetTextDatum(moves[i].via);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
