/*-------------------------------------------------------------------------
 *
 * events.h
 *	  The append-only event log and outbox (events.c, SPEC §12).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_EVENTS_H
#define OM_EVENTS_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "context.h"

extern void om_events_define_gucs(void);
extern const char *om_actor(void);
extern void om_json_text_field(StringInfo buf, const char *key, const char *value);
extern void om_events_forget_channel(void);
extern void om_event_write(int64 shop_id, int64 order_id, const char *kind,
						   const char *from_value, const char *to_value,
						   const char *detail_json);
extern void om_event_write_jsonb(int64 shop_id, int64 order_id, const char *kind,
								 const char *from_value, const char *to_value, Jsonb *detail);

/* building an event's detail as jsonb (pushJsonbValue) */
extern void om_jsonb_push_key(JsonbParseState **js, const char *key);
extern void om_jsonb_push_string(JsonbParseState **js, const char *key, const char *value);
extern void om_jsonb_push_int(JsonbParseState **js, const char *key, int32 value);
extern void om_jsonb_push_numeric(JsonbParseState **js, const char *key, Numeric value);

/* deferral by a run_due() batch (OmAct.deferred) */
extern OmEventQueue *om_events_defer_begin(MemoryContext cxt);
extern void om_events_defer_end(OmEventQueue *q);
extern int	om_events_deferred(const OmEventQueue *q);
extern void om_events_rewind(OmEventQueue *q, int mark);
extern void om_events_flush(OmEventQueue *q);

#endif							/* OM_EVENTS_H */
