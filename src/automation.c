/*-------------------------------------------------------------------------
 *
 * automation.c
 *	  Order status automation and reward points (SPEC §9, seed 001).
 *
 * create_rule() stores a rule: when an order's payment status is in
 * payment_in and its delivery status in delivery_in, it completes after
 * delay.  The effects trigger calls om_automation_track() on every payment
 * or delivery move: the first time the statuses match an enabled rule an
 * automation_complete deadline is set (later moves that still match keep
 * it); when they stop matching it is dropped, so nothing happens.  The
 * deadline re-checks the rule when it falls due (due_action.c).  With the
 * shop's return_window set it falls due no earlier than the window's end
 * (SPEC §11), and is checked against it again then.
 *
 * Rewards: when an order completes (any path) and the shop's reward_rate is
 * above 0, its customer earns floor((paid - refunded) * rate) points, once
 * per order; a later refund writes a reversed entry for the points it takes
 * back, so earned - reversed always equals floor(kept money * rate).  A
 * shop whose reward_unit is store_credit pays rewards in store credit
 * instead (seed 001's 購物金): round((paid - refunded) * rate) to the
 * currency, onto the customer's balance with a ledger entry (earned), and
 * a later refund takes back what the kept money no longer earns, as far as
 * the balance still holds it (never below 0: credit already spent stays
 * spent).  Only money earns rewards: store credit spent is not paid_amount.
 *
 * Lock order: the order row (held by the caller), then the customer's
 * store credit balance; inside run_due() that row is locked NOWAIT first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"

#include "automation.h"
#include "clock.h"
#include "context.h"
#include "events.h"
#include "money.h"
#include "om_args.h"
#include "rls.h"
#include "shop.h"
#include "spi_util.h"

/*
 * Set or drop the order's automation deadline after a payment or delivery
 * move.  With the shop's return_window set, the deadline is never before
 * delivered_at + return_window (seed 001: an order is completed only when
 * it no longer needs a return): a new one starts there at the earliest, an
 * existing one moves there when the order is delivered.  A 0.1.0 schema
 * has no window.
 */
void
om_automation_track(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_010 = NULL;
	bool		window = om_has_column("shop", "return_window");

#define TRACK_SQL(WINDOW_END, WINDOW_JOIN, DUE_AT, RAISE) \
	"WITH m AS (SELECT r.rule_id, r.delay" WINDOW_END " FROM order_mgmt.automation_rule r" \
	"    JOIN order_mgmt.orders o ON o.shop_id = r.shop_id AND o.order_id = $2" WINDOW_JOIN \
	"    WHERE r.shop_id = $1 AND r.enabled AND o.status IN ('pending', 'confirmed')" \
	"      AND o.payment_status = ANY (r.payment_in) AND o.delivery_status = ANY (r.delivery_in)" \
	"    ORDER BY r.delay, r.rule_id LIMIT 1)," \
	" s AS (INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, rule_id, created_at)" \
	"    SELECT $1, $2, 'automation_complete', " DUE_AT ", m.rule_id, $3 FROM m" \
	"    ON CONFLICT (shop_id, order_id, action) DO NOTHING)" RAISE \
	" DELETE FROM order_mgmt.due_action d" \
	" WHERE d.shop_id = $1 AND d.order_id = $2 AND d.action = 'automation_complete'" \
	"   AND NOT EXISTS (SELECT FROM m)"

	if (window)
		om_exec_for_order(&plan,
						  TRACK_SQL(", o.delivered_at + sh.return_window AS window_end",
									" JOIN order_mgmt.shop sh ON sh.shop_id = r.shop_id AND sh.shop_id = $1",
									"greatest($3 + m.delay, m.window_end)",
									", w AS (UPDATE order_mgmt.due_action d SET due_at = m.window_end FROM m"
									"    WHERE d.shop_id = $1 AND d.order_id = $2 AND d.action = 'automation_complete'"
									"      AND d.due_at < m.window_end)"),
						  shop_id, order_id);
	else
		om_exec_for_order(&plan_010, TRACK_SQL("", "", "$3 + m.delay", ""), shop_id, order_id);
#undef TRACK_SQL
}

/*
 * om_automation_track() for a set of orders (int8[] shops and orders, a
 * run_due() set UPDATE, sweep_set.c), with one statement: the same rule
 * per order (the first enabled one that matches, by delay and rule_id),
 * the same deadline set, moved or dropped.  0.2.0 schemas only (the
 * return window); inside SPI.
 */
void
om_automation_track_set(Datum shops, Datum orders)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZOID};
	Datum		values[3];

	om_plan(&plan,
			"WITH u AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1::int8[]),"
			"    pg_catalog.unnest($2::int8[])) AS u(shop_id, order_id)),"
			" m AS (SELECT DISTINCT ON (u.shop_id, u.order_id) u.shop_id, u.order_id, r.rule_id, r.delay,"
			"    o.delivered_at + sh.return_window AS window_end"
			"    FROM u JOIN order_mgmt.orders o ON o.shop_id = u.shop_id AND o.order_id = u.order_id"
			"    JOIN order_mgmt.automation_rule r ON r.shop_id = u.shop_id"
			"    JOIN order_mgmt.shop sh ON sh.shop_id = u.shop_id"
			"    WHERE r.enabled AND o.status IN ('pending', 'confirmed')"
			"      AND o.payment_status = ANY (r.payment_in) AND o.delivery_status = ANY (r.delivery_in)"
			"    ORDER BY u.shop_id, u.order_id, r.delay, r.rule_id),"
			" s AS (INSERT INTO order_mgmt.due_action (shop_id, order_id, action, due_at, rule_id, created_at)"
			"    SELECT m.shop_id, m.order_id, 'automation_complete', greatest($3 + m.delay, m.window_end),"
			"      m.rule_id, $3 FROM m"
			"    ON CONFLICT (shop_id, order_id, action) DO NOTHING),"
			" w AS (UPDATE order_mgmt.due_action d SET due_at = m.window_end FROM m"
			"    WHERE d.shop_id = m.shop_id AND d.order_id = m.order_id AND d.action = 'automation_complete'"
			"      AND d.due_at < m.window_end)"
			" DELETE FROM order_mgmt.due_action d USING u"
			" WHERE d.shop_id = u.shop_id AND d.order_id = u.order_id AND d.action = 'automation_complete'"
			"   AND NOT EXISTS (SELECT FROM m WHERE m.shop_id = u.shop_id AND m.order_id = u.order_id)",
			3, argtypes);
	values[0] = shops;
	values[1] = orders;
	values[2] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, NULL, false, 0);
}

static void ReverseCredit(int64 shop_id, int64 order_id);

static void
RewardEvent(int64 shop_id, int64 order_id, const char *kind, int64 points)
{
	om_event_write(shop_id, order_id, "reward", NULL, NULL,
				   psprintf("{\"kind\": \"%s\", \"points\": " INT64_FORMAT "}", kind, points));
}

/* A reward paid in store credit: {"kind", "store_credit", "balance"}. */
static void
CreditRewardEvent(int64 shop_id, int64 order_id, const char *kind, Numeric amount,
				  Numeric balance)
{
	om_event_write(shop_id, order_id, "reward", NULL, NULL,
				   psprintf("{\"kind\": \"%s\", \"store_credit\": %s, \"balance\": %s}", kind,
							om_num_text(amount), om_num_text(balance)));
}

/*
 * The order completed: its customer earns points, or store credit, once.
 * One statement either way (0.2.0); a 0.1.0 schema knows points only.
 */
void
om_rewards_earn(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr unit_plan = NULL;
	static SPIPlanPtr nowait_plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[4];
	bool		isnull;
	uint64		i;

	if (om_has_column("shop", "reward_unit"))
	{
		/* the sweeper never waits: the balance row NOWAIT first (55P03) */
		if (om_act()->nowait)
			om_exec_for_order(&nowait_plan,
							  "SELECT 1 FROM order_mgmt.store_credit_balance b"
							  " WHERE b.shop_id = $1 AND b.customer_id = (SELECT o.customer_id"
							  "     FROM order_mgmt.orders o WHERE o.shop_id = $1 AND o.order_id = $2)"
							  "   AND EXISTS (SELECT FROM order_mgmt.shop s WHERE s.shop_id = $1"
							  "     AND s.reward_unit = 'store_credit' AND s.reward_rate > 0)"
							  " FOR NO KEY UPDATE OF b NOWAIT",
							  shop_id, order_id);
		om_plan(&unit_plan,
				"WITH x AS (SELECT o.shop_id, o.customer_id, o.order_id, s.reward_unit,"
				"    floor((o.paid_amount - o.refunded_amount) * s.reward_rate)::int8 AS points,"
				"    round((o.paid_amount - o.refunded_amount) * s.reward_rate,"
				"          order_mgmt.minor_units(o.currency)) AS credit"
				"  FROM order_mgmt.orders o JOIN order_mgmt.shop s ON s.shop_id = o.shop_id"
				"  WHERE o.shop_id = $1 AND s.shop_id = $1 AND o.order_id = $2"
				"    AND o.customer_id IS NOT NULL AND s.reward_rate > 0),"
				" p AS (INSERT INTO order_mgmt.reward_ledger (shop_id, customer_id, order_id, points, kind, created_at)"
				"  SELECT x.shop_id, x.customer_id, x.order_id, x.points, 'earned', $3 FROM x"
				"  WHERE x.reward_unit = 'points' AND x.points > 0"
				"  ON CONFLICT (shop_id, order_id) WHERE kind = 'earned' DO NOTHING"
				"  RETURNING points),"
				" b AS (INSERT INTO order_mgmt.store_credit_balance AS c (shop_id, customer_id, balance, updated_at)"
				"  SELECT x.shop_id, x.customer_id, x.credit, $3 FROM x"
				"  WHERE x.reward_unit = 'store_credit' AND x.credit > 0"
				"    AND NOT EXISTS (SELECT FROM order_mgmt.store_credit_ledger e"
				"      WHERE e.shop_id = $1 AND e.order_id = $2 AND e.kind = 'earned')"
				"  ON CONFLICT (shop_id, customer_id) DO UPDATE"
				"    SET balance = c.balance + EXCLUDED.balance, updated_at = EXCLUDED.updated_at"
				"  RETURNING balance),"
				" e AS (INSERT INTO order_mgmt.store_credit_ledger (shop_id, customer_id, order_id, kind,"
				"    amount, balance, actor, created_at)"
				"  SELECT x.shop_id, x.customer_id, x.order_id, 'earned', x.credit, b.balance, $4, $3"
				"  FROM x, b RETURNING amount, balance)"
				" SELECT points::numeric, NULL::numeric FROM p"
				" UNION ALL SELECT amount, balance FROM e",
				4, argtypes);
		values[0] = Int64GetDatum(shop_id);
		values[1] = Int64GetDatum(order_id);
		values[2] = TimestampTzGetDatum(om_now());
		values[3] = CStringGetTextDatum(om_actor());
		om_exec(unit_plan, values, NULL, false, 0);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	td = SPI_tuptable->tupdesc;
			Numeric		amount = DatumGetNumeric(SPI_getbinval(tup, td, 1, &isnull));
			Datum		balance = SPI_getbinval(tup, td, 2, &isnull);

			if (isnull)
				RewardEvent(shop_id, order_id, "earned",
							DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(amount))));
			else
				CreditRewardEvent(shop_id, order_id, "earned", amount, DatumGetNumeric(balance));
		}
		return;
	}

	om_exec_for_order(&plan,
					  "INSERT INTO order_mgmt.reward_ledger (shop_id, customer_id, order_id, points, kind, created_at)"
					  " SELECT x.shop_id, x.customer_id, x.order_id, x.points, 'earned', $3"
					  " FROM (SELECT o.shop_id, o.customer_id, o.order_id,"
					  "         floor((o.paid_amount - o.refunded_amount) * s.reward_rate)::int8 AS points"
					  "       FROM order_mgmt.orders o JOIN order_mgmt.shop s ON s.shop_id = o.shop_id"
					  "       WHERE o.shop_id = $1 AND s.shop_id = $1 AND o.order_id = $2"
					  "         AND o.customer_id IS NOT NULL AND s.reward_rate > 0) x"
					  " WHERE x.points > 0"
					  " ON CONFLICT (shop_id, order_id) WHERE kind = 'earned' DO NOTHING"
					  " RETURNING points",
					  shop_id, order_id);
	if (SPI_processed == 1)
		RewardEvent(shop_id, order_id, "earned",
					DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
}

/* Money went back: take back the points it no longer earns. */
void
om_rewards_reverse(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	om_exec_for_order(&plan,
					  "INSERT INTO order_mgmt.reward_ledger (shop_id, customer_id, order_id, points, kind, created_at)"
					  " SELECT x.shop_id, x.customer_id, x.order_id, x.back, 'reversed', $3"
					  " FROM (SELECT e.shop_id, e.customer_id, e.order_id, e.points"
					  "         - greatest(least(floor((o.paid_amount - o.refunded_amount) * s.reward_rate)::int8,"
					  "                          e.points), 0)"
					  "         - coalesce((SELECT sum(r.points) FROM order_mgmt.reward_ledger r"
					  "             WHERE r.shop_id = $1 AND r.order_id = $2 AND r.kind = 'reversed'), 0) AS back"
					  "       FROM order_mgmt.reward_ledger e"
					  "       JOIN order_mgmt.orders o ON o.shop_id = e.shop_id AND o.order_id = e.order_id"
					  "       JOIN order_mgmt.shop s ON s.shop_id = e.shop_id"
					  "       WHERE e.shop_id = $1 AND o.shop_id = $1 AND s.shop_id = $1"
					  "         AND e.order_id = $2 AND o.order_id = $2 AND e.kind = 'earned') x"
					  " WHERE x.back > 0"
					  " RETURNING points",
					  shop_id, order_id);
	if (SPI_processed == 1)
		RewardEvent(shop_id, order_id, "reversed",
					DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
	if (om_has_column("shop", "reward_unit"))
		ReverseCredit(shop_id, order_id);
}

/*
 * Money went back on an order that earned store credit: take back what the
 * kept money no longer earns, round((paid - refunded) * rate), as far as
 * the customer's balance still holds it (credit spent since stays spent;
 * never below 0; a balance spent meanwhile by a concurrent checkout is
 * re-checked and then left alone).  Nothing happens to an order that
 * earned none.
 */
static void
ReverseCredit(int64 shop_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[4];
	bool		isnull;

	om_plan(&plan,
			"WITH x AS (SELECT e.customer_id, e.amount - greatest(least(round((o.paid_amount - o.refunded_amount)"
			"      * s.reward_rate, order_mgmt.minor_units(o.currency)), e.amount), 0)"
			"    + coalesce((SELECT sum(r.amount) FROM order_mgmt.store_credit_ledger r"
			"        WHERE r.shop_id = $1 AND r.order_id = $2 AND r.kind = 'reversed'), 0) AS back"
			"  FROM order_mgmt.store_credit_ledger e"
			"  JOIN order_mgmt.orders o ON o.shop_id = e.shop_id AND o.order_id = e.order_id"
			"  JOIN order_mgmt.shop s ON s.shop_id = e.shop_id"
			"  WHERE e.shop_id = $1 AND o.shop_id = $1 AND s.shop_id = $1"
			"    AND e.order_id = $2 AND o.order_id = $2 AND e.kind = 'earned'),"
			" y AS (SELECT x.customer_id, least(x.back, c.balance) AS taken FROM x"
			"  JOIN order_mgmt.store_credit_balance c ON c.shop_id = $1 AND c.customer_id = x.customer_id"
			"  WHERE c.shop_id = $1),"
			" b AS (UPDATE order_mgmt.store_credit_balance c SET balance = c.balance - y.taken, updated_at = $3"
			"  FROM y WHERE c.shop_id = $1 AND c.customer_id = y.customer_id AND y.taken > 0"
			"    AND c.balance >= y.taken"
			"  RETURNING c.customer_id, c.balance, y.taken)"
			" INSERT INTO order_mgmt.store_credit_ledger (shop_id, customer_id, order_id, kind, amount,"
			"    balance, actor, created_at)"
			" SELECT $1, b.customer_id, $2, 'reversed', -b.taken, b.balance, $4, $3 FROM b"
			" RETURNING -amount, balance",
			4, argtypes);
	values[0] = Int64GetDatum(shop_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = TimestampTzGetDatum(om_now());
	values[3] = CStringGetTextDatum(om_actor());
	om_exec(plan, values, NULL, false, 0);
	if (SPI_processed == 1)
		CreditRewardEvent(shop_id, order_id, "reversed",
						  DatumGetNumeric(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
						  DatumGetNumeric(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)));
}

static void
CheckStatusArray(ArrayType *a, const char *name)
{
	if (ARR_NDIM(a) != 1 || ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must list at least one status", name)));
	if (array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not contain nulls", name)));
}

/*
 * create_rule(shop_id, name, payment_in, delivery_in, delay) -> rule_id
 */
PG_FUNCTION_INFO_V1(om_create_rule);
Datum
om_create_rule(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	/* arrays go as text and are cast in SQL, so the kept plan names no type OIDs */
	static const Oid argtypes[] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, INTERVALOID, TIMESTAMPTZOID};
	Datum		values[6];
	char	   *name;
	bool		isnull;
	int64		rule_id;

	OM_SHOP_ARG(0);
	OM_ARG_NOT_NULL(1, "name");
	OM_ARG_NOT_NULL(2, "payment_in");
	OM_ARG_NOT_NULL(3, "delivery_in");
	OM_ARG_NOT_NULL(4, "delay");
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (name[strspn(name, " \t\r\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("name must not be empty")));
	CheckStatusArray(PG_GETARG_ARRAYTYPE_P(2), "payment_in");
	CheckStatusArray(PG_GETARG_ARRAYTYPE_P(3), "delivery_in");
	if (DatumGetBool(DirectFunctionCall2(interval_lt, PG_GETARG_DATUM(4),
										 IntervalPGetDatum(palloc0(sizeof(Interval))))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delay must not be negative")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	om_require_shop(PG_GETARG_INT64(0));
	om_plan(&plan,
			"INSERT INTO order_mgmt.automation_rule (shop_id, name, payment_in, delivery_in, delay, created_at)"
			" VALUES ($1, $2, $3::order_mgmt.payment_status[], $4::order_mgmt.delivery_status[], $5, $6)"
			" RETURNING rule_id",
			6, argtypes);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = CStringGetTextDatum(name);
	values[2] = CStringGetTextDatum(OidOutputFunctionCall(F_ARRAY_OUT, PG_GETARG_DATUM(2)));
	values[3] = CStringGetTextDatum(OidOutputFunctionCall(F_ARRAY_OUT, PG_GETARG_DATUM(3)));
	values[4] = PG_GETARG_DATUM(4);
	values[5] = TimestampTzGetDatum(om_now());
	om_exec(plan, values, NULL, false, 0);
	rule_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(rule_id);
}
