/*-------------------------------------------------------------------------
 *
 * clock.c
 *	  order_mgmt.now() and the test clock (SPEC §13, principle 6).
 *
 * Every rule that depends on time reads om_now(): the transaction start
 * time, or the instant in the superuser-only setting order_mgmt.clock when
 * it is set.  The setting is parsed once, when it is set, into a
 * TimestampTz kept in the GUC's "extra" data, so reading the clock is free.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/guc.h"

#include "clock.h"
#include "compat.h"

static char *clock_setting = NULL;
static bool clock_is_set = false;
static TimestampTz clock_value = 0;

/*
 * Accept any timestamptz input that names a finite instant; the empty
 * string means "no test clock".  Check hooks must not throw, so we use the
 * datetime parser's error codes rather than timestamptz_in().
 */
static bool
CheckClock(char **newval, void **extra, GucSource source)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz;
	int			dterr;
	struct pg_tm tt;
	fsec_t		fsec;
	TimestampTz result;
	TimestampTz *parsed;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;

	if (session_timezone == NULL)
	{
		GUC_check_errdetail("The time zone is not known yet.");
		return false;
	}

	dterr = ParseDateTime(*newval, workbuf, sizeof(workbuf), field, ftype,
						  MAXDATEFIELDS, &nf);
	if (dterr == 0)
		dterr = OM_DECODE_DATETIME(field, ftype, nf, &dtype, &tt, &fsec, &tz);
	if (dterr != 0 || dtype != DTK_DATE || tm2timestamp(&tt, fsec, &tz, &result) != 0)
	{
		GUC_check_errdetail("The test clock must be a finite timestamp with time zone, such as \"2026-01-01 12:00+00\".");
		return false;
	}

	parsed = OM_GUC_MALLOC(sizeof(TimestampTz));
	if (parsed == NULL)
		return false;
	*parsed = result;
	*extra = parsed;
	return true;
}

static void
AssignClock(const char *newval, void *extra)
{
	if (extra == NULL)
		clock_is_set = false;
	else
	{
		clock_is_set = true;
		clock_value = *(TimestampTz *) extra;
	}
}

void
om_clock_define_guc(void)
{
	DefineCustomStringVariable("order_mgmt.clock",
							   "Sets the time order_mgmt.now() returns, for tests; empty means the transaction start time.",
							   "Only superusers (or roles granted SET on it) may set it, because it changes when deadlines fall due.",
							   &clock_setting,
							   "",
							   PGC_SUSET,
							   0,
							   CheckClock, AssignClock, NULL);
}

/* The time every rule uses (SPEC §13). */
TimestampTz
om_now(void)
{
	return clock_is_set ? clock_value : GetCurrentTransactionStartTimestamp();
}

PG_FUNCTION_INFO_V1(om_now_sql);
Datum
om_now_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(om_now());
}
