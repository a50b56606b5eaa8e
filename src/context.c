/*-------------------------------------------------------------------------
 *
 * context.c
 *	  The acting context (context.h): the one piece of backend state that
 *	  says in which mode the lower layers run.
 *
 * A change is always bracketed:
 *
 *		OmAct		saved;
 *		OmAct	   *act = om_act_push(&saved);
 *
 *		act->nowait = true;
 *		PG_TRY();
 *		{ ... }
 *		PG_FINALLY();
 *		{ om_act_pop(&saved); }
 *		PG_END_TRY();
 *
 * so every exit restores what was there.  As a backstop, the end of a
 * top-level transaction (commit or abort) puts the default back: no mode
 * can leak from one statement into the next.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"

#include "context.h"

static OmAct current;

static void
ResetAtXactEnd(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PARALLEL_COMMIT)
		memset(&current, 0, sizeof(current));
}

/* Called once, from _PG_init. */
void
om_act_init(void)
{
	memset(&current, 0, sizeof(current));
	RegisterXactCallback(ResetAtXactEnd, NULL);
}

/* The context in force, to read. */
const OmAct *
om_act(void)
{
	return &current;
}

/* Save the context in *saved and return it, to change until om_act_pop(). */
OmAct *
om_act_push(OmAct *saved)
{
	*saved = current;
	return &current;
}

/* Restore what om_act_push() saved. */
void
om_act_pop(const OmAct *saved)
{
	current = *saved;
}

/*
 * Is the row at hand one of a run_due() set UPDATE's (or of a plain UPDATE
 * a trigger ran within it)?  An API call a trigger makes within it runs
 * one level deeper and has its effects at once, as anywhere else.
 */
bool
om_act_in_set(void)
{
	return current.set != NULL && current.api_depth == current.set_depth;
}

/*
 * Act as the system: events say "system", the guard lets the API's
 * columns change, and a payment failure gives failure_reason (if not
 * NULL).  Saves the context in *saved for om_act_pop(), in PG_FINALLY,
 * and returns it to change further.
 */
OmAct *
om_act_system(OmAct *saved, const char *failure_reason)
{
	OmAct	   *act = om_act_push(saved);

	act->actor = OM_ACTOR_SYSTEM;
	if (failure_reason)
		act->failure_reason = failure_reason;
	act->api_depth++;
	return act;
}
