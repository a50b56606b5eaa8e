/*-------------------------------------------------------------------------
 *
 * sweeper.c
 *	  The background worker that calls order_mgmt.run_due() every
 *	  order_mgmt.sweep_interval in order_mgmt.database (SPEC §13).
 *
 * It is registered only when order_mgmt is in shared_preload_libraries.
 * Each wake-up runs batches of order_mgmt.sweep_batch actions, one
 * transaction each, until the backlog is gone; a database without the
 * extension is skipped quietly.  The loop follows pg_cron's model: a latch wait,
 * CHECK_FOR_INTERRUPTS, configuration reload on SIGHUP, a memory context
 * reset every pass.
 *
 * On Citus each node's sweeper sweeps the shops whose shards it holds
 * (CITUS_SWEEP_SQL, docs/citus.md).
 *
 * Each batch pins search_path to pg_catalog (issue 19): the worker runs as
 * a superuser, and its Citus query must not resolve an operator that a
 * user planted in a schema the database's search_path lists first.
 *
 * The sweeper never waits behind a user's lock (issue 15): run_due() waits
 * on no row, and each batch runs with lock_timeout set to
 * order_mgmt.sweep_lock_timeout, so a table lock someone holds (LOCK TABLE,
 * a long ALTER) costs it at most that long.  An error in a batch, the lock
 * timeout or any other, is logged and its transaction rolled back, and the
 * sweeper tries again at the next interval instead of exiting (an exit
 * would only be restarted after bgw_restart_time, and a lasting cause would
 * make that a loop of restarts).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "executor/spi.h"

#include "due_action.h"
#include "spi_util.h"
#include "sweep.h"

PGDLLEXPORT void om_sweeper_main(Datum arg);

static int	sweep_interval = 1000;	/* ms */
static char *sweep_database = NULL;
static int	sweep_batch = 100;
static int	sweep_lock_timeout = 1000;	/* ms */

void
om_sweeper_define_gucs(void)
{
	DefineCustomIntVariable("order_mgmt.sweep_interval",
							"Sets how often the sweeper runs order_mgmt.run_due().",
							NULL,
							&sweep_interval,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("order_mgmt.sweep_batch",
							"Sets how many due actions the sweeper performs in one transaction.",
							NULL,
							&sweep_batch,
							100, 1, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("order_mgmt.sweep_lock_timeout",
							"Sets the lock_timeout of the sweeper's transactions.",
							"The sweeper gives up a batch that waits this long for a lock, and tries again at the next interval.",
							&sweep_lock_timeout,
							1000, 1, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomStringVariable("order_mgmt.database",
							   "Sets the database the sweeper works in.",
							   NULL,
							   &sweep_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);
}

void
om_sweeper_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "order_mgmt");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "om_sweeper_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "order_mgmt sweeper");
	snprintf(worker.bgw_type, BGW_MAXLEN, "order_mgmt sweeper");
	RegisterBackgroundWorker(&worker);
}

/*
 * On Citus, run_due() cannot run (it locks due actions of every shop, which
 * Citus refuses across shards): each node's sweeper runs run_due_shop() for
 * the shops with due actions whose shards are on that node, so every
 * worker sweeps its own shops and the coordinator (no shards) none.  The
 * shops (with due rows, or from 0.2.0 orders past their payment deadline)
 * come from one query over every shard; their sweeps run here, on
 * local shards.  The largest count decides whether to go on at once.
 */
#define CITUS_SWEEP_SQL(SHOPS) \
	"WITH d AS MATERIALIZED (SELECT DISTINCT shop_id FROM order_mgmt.due_action" \
	"  WHERE due_at <= order_mgmt.now()" SHOPS ")" \
	" SELECT coalesce(max(order_mgmt.run_due_shop(d.shop_id, %d)), 0) FROM d" \
	" WHERE EXISTS (SELECT FROM pg_catalog.pg_dist_placement p" \
	"  WHERE p.shardid = pg_catalog.get_shard_id_for_distribution_column('order_mgmt.due_action', d.shop_id)" \
	"    AND p.groupid = (SELECT groupid FROM pg_catalog.pg_dist_local_group))"
/* and (0.2.0) the shops with orders past their payment deadline (due_action.h) */
#define CITUS_TIMEOUTS_SQL \
	" UNION SELECT o.shop_id FROM order_mgmt.orders o" \
	"  WHERE o.payment_due_at <= order_mgmt.now() AND" OM_AWAITING_PAYMENT("o")

/*
 * A transaction of the sweeper's, with lock_timeout = sweep_lock_timeout
 * for it, reported as activity.  The worker is a superuser session with
 * the database's search_path (ALTER DATABASE ... SET search_path may put
 * public first): its own statements resolve names and operators in
 * pg_catalog only (issue 19).
 */
static void
BeginWork(const char *activity)
{
	char		timeout[32];

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	snprintf(timeout, sizeof(timeout), "%d", sweep_lock_timeout);
	(void) set_config_option("lock_timeout", timeout, PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

static void
EndWork(void)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * One batch: run_due(sweep_batch) in its own transaction, if the extension
 * is here.  Sets *done to how many actions it performed; raises what
 * run_due() raised, leaving the transaction for the caller to abort.
 * Small batches keep the rows an auto-cancel touches (stock, promo codes)
 * locked only briefly.
 */
static void
SweepOnce(void *arg)
{
	int		   *done = arg;

	BeginWork("order_mgmt.run_due()");
	if (OidIsValid(get_extension_oid("order_mgmt", true)))
	{
		char		sql[sizeof(CITUS_SWEEP_SQL(CITUS_TIMEOUTS_SQL)) + 16];

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (OidIsValid(get_extension_oid("citus", true)) && om_timeouts_on_orders())
			snprintf(sql, sizeof(sql), CITUS_SWEEP_SQL(CITUS_TIMEOUTS_SQL), sweep_batch);
		else if (OidIsValid(get_extension_oid("citus", true)))
			snprintf(sql, sizeof(sql), CITUS_SWEEP_SQL(""), sweep_batch);
		else
			snprintf(sql, sizeof(sql), "SELECT order_mgmt.run_due(%d)", sweep_batch);
		if (SPI_execute(sql, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "order_mgmt sweeper: run_due failed");
		*done = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &(bool){false}));
		SPI_finish();
	}
	EndWork();
}

/*
 * After the batches, once per interval: balance_buckets() for every shop
 * with heat or automatic buckets (hot_sku.c), in a transaction of its own
 * with the same lock_timeout, so a split or merge waits that long at most
 * for a hot SKU's checkouts.  On Citus, the shops whose shards are here.
 */
#define BALANCE_SHOPS_SQL \
	"WITH d AS MATERIALIZED (SELECT DISTINCT shop_id FROM order_mgmt.sku_heat" \
	"  UNION SELECT DISTINCT shop_id FROM order_mgmt.sku WHERE auto_buckets IS NOT NULL)" \
	" SELECT coalesce(sum(order_mgmt.balance_buckets(d.shop_id)), 0)::int4 FROM d"
#define CITUS_BALANCE_SQL BALANCE_SHOPS_SQL \
	" WHERE EXISTS (SELECT FROM pg_catalog.pg_dist_placement p" \
	"  WHERE p.shardid = pg_catalog.get_shard_id_for_distribution_column('order_mgmt.sku', d.shop_id)" \
	"    AND p.groupid = (SELECT groupid FROM pg_catalog.pg_dist_local_group))"

static void
BalanceOnce(void *arg)
{
	BeginWork("order_mgmt.balance_buckets()");
	if (OidIsValid(get_extension_oid("order_mgmt", true)) && om_has_column("sku_heat", "holds"))
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute(OidIsValid(get_extension_oid("citus", true)) ?
						CITUS_BALANCE_SQL : BALANCE_SHOPS_SQL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "order_mgmt sweeper: balance_buckets failed");
		SPI_finish();
	}
	EndWork();
}

/*
 * fn(arg), surviving its errors: an error is logged, its transaction
 * rolled back and the error state cleared, and false returned, so that the
 * caller waits for the next interval (pg_cron's and autovacuum's way).
 */
static bool
RunCaught(void (*fn) (void *), void *arg, MemoryContext pass_cxt)
{
	volatile bool ok = true;

	PG_TRY();
	{
		fn(arg);
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(pass_cxt);
		EmitErrorReport();
		AbortCurrentTransaction();
		FlushErrorState();
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

void
om_sweeper_main(Datum arg)
{
	MemoryContext pass_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(sweep_database, NULL, 0);

	pass_cxt = AllocSetContextCreate(TopMemoryContext, "order_mgmt sweeper pass",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext old;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sweep_interval, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* batches until the backlog is gone (bounded, to stay responsive) */
		for (int batch = 0; batch < 1000; batch++)
		{
			int			done = 0;
			bool		ok;

			old = MemoryContextSwitchTo(pass_cxt);
			ok = RunCaught(SweepOnce, &done, pass_cxt);
			MemoryContextSwitchTo(old);
			MemoryContextReset(pass_cxt);
			CHECK_FOR_INTERRUPTS();
			/* the backlog is gone, or the batch failed: wait the interval */
			if (!ok || done < sweep_batch)
				break;
		}

		/* then the hot SKUs' buckets (issue 21) */
		old = MemoryContextSwitchTo(pass_cxt);
		(void) RunCaught(BalanceOnce, NULL, pass_cxt);
		MemoryContextSwitchTo(old);
		MemoryContextReset(pass_cxt);
	}
}
