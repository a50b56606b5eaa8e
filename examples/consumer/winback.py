#!/usr/bin/python3
"""Win-back consumer: a personal promo code for every cancelled order.

An example of an exactly-once consumer of order_mgmt's outbox (SPEC §12).
It reads the shop's events with next_events() as the named consumer
'winback' and, for each order_status event to 'cancelled', issues the
customer a win-back code and records a follow-up row (the mail to send).
The follow-ups and the consumer's position commit in ONE transaction, so a
crash anywhere redelivers exactly what was not committed.

    winback.py SHOP_ID [CONNINFO] [--drain]

CONNINFO defaults to $WINBACK_DSN, else libpq's PG* environment.  --drain
exits once no event is left.  Needs python3-psycopg (psycopg 3).
"""
import argparse
import os
import select
import sys
import time

import psycopg
from psycopg import errors, sql

CONSUMER = "winback"
BATCH = 100


def log(msg):
    print("winback: " + msg, file=sys.stderr, flush=True)


def setup(conn, shop):
    """Our own table (no unique key: a duplicate would show) and consumer."""
    with conn.transaction():
        conn.execute("CREATE SCHEMA IF NOT EXISTS winback")
        conn.execute("""CREATE TABLE IF NOT EXISTS winback.followup (
            shop_id bigint NOT NULL, order_id bigint NOT NULL, code text NOT NULL,
            event_id bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())""")
        # from_start: a consumer registered late still sees every event
        conn.execute("SELECT order_mgmt.register_consumer(%s, %s, from_start => true)",
                     (shop, CONSUMER))
        channel = conn.execute("SELECT notify_channel FROM order_mgmt.shop WHERE shop_id = %s",
                               (shop,)).fetchone()[0]
    if channel:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
    else:
        log("shop %d has no NOTIFY channel (enable_notify): polling" % shop)


def one_batch(conn, shop):
    """Handle one batch in one transaction; returns how many events it had."""
    with conn.transaction():        # COMMIT acknowledges; any error redelivers
        events = conn.execute(
            "SELECT event_id, order_id, kind = 'order_status' AND to_value = 'cancelled'"
            " FROM order_mgmt.next_events(%s, %s, %s)", (shop, CONSUMER, BATCH)).fetchall()
        for event_id, order_id, cancelled in events:
            if not cancelled:
                continue
            try:
                with conn.transaction():    # a savepoint: a refusal skips one order
                    code = conn.execute("SELECT order_mgmt.issue_winback_code(%s, %s)",
                                        (shop, order_id)).fetchone()[0]
            except psycopg.Error as e:
                if not (e.sqlstate or "").startswith("OM") and e.sqlstate != "22023":
                    raise
                # reactivated since (OM013) or a guest order without e-mail (22023): no code
                log("no code for order %d: %s" % (order_id, e.diag.message_primary))
                continue
            conn.execute("INSERT INTO winback.followup (shop_id, order_id, code, event_id)"
                         " VALUES (%s, %s, %s, %s)", (shop, order_id, code, event_id))
    return len(events)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("shop_id", type=int)
    ap.add_argument("conninfo", nargs="?", default=os.environ.get("WINBACK_DSN", ""))
    ap.add_argument("--drain", action="store_true", help="exit once no event is left")
    args = ap.parse_args()

    # autocommit: each transaction is an explicit conn.transaction() block,
    # and LISTEN takes effect at once
    conn = psycopg.connect(args.conninfo, autocommit=True, application_name=CONSUMER)
    woken = [False]
    conn.add_notify_handler(lambda n: woken.__setitem__(0, True))
    setup(conn, args.shop_id)
    while True:
        woken[0] = False
        try:
            n = one_batch(conn, args.shop_id)
        except errors.LockNotAvailable:
            # 55P03: the consumer row is locked, another instance is reading
            log("consumer %r of shop %d is busy (another instance running?); retrying in 1 s"
                % (CONSUMER, args.shop_id))
            time.sleep(1)
            continue
        if n == 0 and args.drain:
            return
        if n == BATCH or woken[0] or args.drain:
            continue                # more to read, or a commit came meanwhile
        # Wait for a wake-up (an empty NOTIFY) or time out: NOTIFY is only
        # a hint, lost while nobody listens; the events are the truth.
        if select.select([conn.fileno()], [], [], 1.0)[0]:
            conn.pgconn.consume_input()
            while conn.pgconn.notifies():   # read them all: one read follows
                pass


if __name__ == "__main__":
    main()
