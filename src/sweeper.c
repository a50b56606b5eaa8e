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
 * One batch: run_due(sweep_batch) in its own transaction, if the extension
 * is here, with lock_timeout = sweep_lock_timeout for that transaction.
 * Returns how many actions it performed; raises what run_due() raised,
 * leaving the transaction for the caller to abort.  Small batches keep the
 * rows an auto-cancel touches (stock, promo codes) locked only briefly.
 */
static int
SweepOnce(void)
{
	int			done = 0;
	char		timeout[32];

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	snprintf(timeout, sizeof(timeout), "%d", sweep_lock_timeout);
	(void) set_config_option("lock_timeout", timeout, PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	/*
	 * The worker is a superuser session with the database's search_path
	 * (ALTER DATABASE ... SET search_path may put public first): its own
	 * statements resolve names and operators in pg_catalog only (issue 19).
	 */
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "order_mgmt.run_due()");

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
		done = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &(bool){false}));
		SPI_finish();
	}

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return done;
}

/*
 * SweepOnce, surviving its errors: an error is logged, its transaction
 * rolled back and the error state cleared, and -1 returned, so that the
 * caller waits for the next interval (pg_cron's and autovacuum's way).
 */
static int
SweepOnceCaught(MemoryContext pass_cxt)
{
	volatile int done = -1;

	PG_TRY();
	{
		done = SweepOnce();
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
		done = -1;
	}
	PG_END_TRY();
	return done;
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
			int			done;

			old = MemoryContextSwitchTo(pass_cxt);
			done = SweepOnceCaught(pass_cxt);
			MemoryContextSwitchTo(old);
			MemoryContextReset(pass_cxt);
			CHECK_FOR_INTERRUPTS();
			/* the backlog is gone, or the batch failed: wait the interval */
			if (done < sweep_batch)
				break;
		}
	}
}
