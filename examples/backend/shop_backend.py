#!/usr/bin/python3
"""A reference shop backend for order_mgmt (issue 20): the few lines that
matter between HTTP and the database, with nothing but Debian's
python3-psycopg (psycopg 3) and the standard library.

Every rule lives in the database: this file only calls order_mgmt's
functions and turns their SQLSTATEs into answers a storefront can show
(SQLSTATES below).  Serialization failures and deadlocks (40001, 40P01)
are retried.  One connection per request thread, from a small pool.

Endpoints (JSON in, JSON out):
  POST /shops/<shop>/checkout            {"lines": [...], "customer_id"?, "email"?,
                                          "promo_code"?, "idempotency_key"?}  -> 201 {"order_id"}
  POST /shops/<shop>/payments/callback   {"order_id", "status": "succeeded"|"failed",
                                          "amount"?, "provider_ref"}        -> 200 {"payment_status"}
  POST /shops/<shop>/orders/<id>/cancel  {"reason"?, "note"?}              -> 200
  POST /shops/<shop>/orders/<id>/customer-cancel {"customer_id", "reason"?} -> 200 | 409 {"reason"}
  GET  /shops/<shop>/orders/<id>                                           -> 200 the order page
  GET  /shops/<shop>/reports/daily?from=YYYY-MM-DD&to=YYYY-MM-DD           -> 200 rows

Run: PG* environment variables say where the database is;
     python3 shop_backend.py [port]   (default 8080)
"""
import json
import queue
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import psycopg
from psycopg.types.json import Jsonb

# SQLSTATE -> (HTTP status, error name a storefront branches on).  SPEC §16.
SQLSTATES = {
    "OM001": (409, "sold_out"),
    "OM002": (422, "promo_code_invalid"),
    "OM003": (409, "promo_code_used_up"),
    "OM004": (409, "promo_code_limit_reached"),
    "OM005": (409, "invalid_transition"),
    "OM006": (409, "cannot_cancel"),
    "OM007": (404, "order_not_found"),
    "OM008": (409, "order_archived"),
    "OM009": (403, "forbidden"),
    "OM010": (409, "payment_mismatch"),
    "OM011": (409, "order_on_hold"),
    "OM012": (409, "return_not_allowed"),
    "OM013": (409, "order_not_modifiable"),
    "OM014": (404, "shop_not_found"),
    "OM015": (402, "insufficient_store_credit"),
    "22023": (400, "invalid_request"),
    "22P02": (400, "invalid_value"),
    "22003": (400, "amount_out_of_range"),
    "23505": (409, "already_exists"),
    "42501": (403, "forbidden"),
    "55P03": (503, "busy"),
}
RETRY = {"40001", "40P01"}       # serialization failure, deadlock: run it again
ATTEMPTS = 5


class Pool:
    """A fixed set of connections handed to one request at a time."""

    def __init__(self, size, conninfo=""):
        self.free = queue.Queue()
        for _ in range(size):
            self.free.put(psycopg.connect(conninfo, autocommit=False))

    def run(self, fn):
        """fn(cursor) in one transaction, retried on 40001/40P01."""
        conn = self.free.get()
        try:
            for attempt in range(ATTEMPTS):
                try:
                    with conn.transaction():
                        with conn.cursor() as cur:
                            return fn(cur)
                except psycopg.Error as e:
                    if e.sqlstate in RETRY and attempt + 1 < ATTEMPTS:
                        time.sleep(0.01 * (attempt + 1))
                        continue
                    raise
        finally:
            if conn.broken:
                conn = psycopg.connect("", autocommit=False)
            self.free.put(conn)


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(body)
        self.status = status
        self.body = body


def error_answer(e):
    """A database error as (HTTP status, JSON body)."""
    status, name = SQLSTATES.get(e.sqlstate, (500, "internal_error"))
    if e.sqlstate in RETRY:
        status, name = 503, "busy"
    diag = e.diag
    body = {"error": name, "sqlstate": e.sqlstate, "message": diag.message_primary}
    if diag.message_detail:
        body["detail"] = diag.message_detail
    if diag.message_hint:
        body["hint"] = diag.message_hint
    if e.sqlstate == "OM001":
        m = re.search(r'sku "([^"]*)"', diag.message_primary or "")
        body["sku"] = m.group(1) if m else None
    return status, body


# ---------------------------------------------------------------- the calls

def checkout(cur, shop, body):
    if not isinstance(body.get("lines"), list):
        raise ApiError(400, {"error": "invalid_request", "message": "lines must be a list"})
    cur.execute(
        "SELECT order_mgmt.checkout(%s, %s, customer_id => %s, email => %s, promo_code => %s,"
        " idempotency_key => %s)",
        (shop, Jsonb(body["lines"]), body.get("customer_id"), body.get("email"),
         body.get("promo_code"), body.get("idempotency_key")))
    return 201, {"order_id": cur.fetchone()[0]}


def payment_callback(cur, shop, body):
    """The provider's callback; delivered twice or late, it is the same call."""
    order_id, ref = body.get("order_id"), body.get("provider_ref")
    if body.get("status") == "succeeded":
        cur.execute("SELECT order_mgmt.payment_succeeded(%s, %s, %s, %s)",
                    (shop, order_id, body.get("amount"), ref))
    elif body.get("status") == "failed":
        cur.execute("SELECT order_mgmt.payment_failed(%s, %s, %s)", (shop, order_id, ref))
    else:
        raise ApiError(400, {"error": "invalid_request", "message": "status is succeeded or failed"})
    return 200, {"payment_status": cur.fetchone()[0]}


def cancel(cur, shop, order_id, body):
    cur.execute("SELECT order_mgmt.cancel(%s, %s, %s, %s)",
                (shop, order_id, body.get("reason", "other"), body.get("note")))
    return 200, {"cancelled": order_id}


def customer_cancel(cur, shop, order_id, body):
    customer = body.get("customer_id")
    # ask first, so the answer carries the reason a customer can read
    cur.execute("SELECT allowed, reason FROM order_mgmt.can_customer_cancel(%s, %s, %s)",
                (shop, order_id, customer))
    allowed, reason = cur.fetchone()
    if not allowed:
        return 409, {"error": "cannot_cancel", "reason": reason}
    cur.execute("SELECT order_mgmt.customer_cancel(%s, %s, %s, %s)",
                (shop, order_id, customer, body.get("reason", "changed_mind")))
    return 200, {"cancelled": order_id}


def order_page(cur, shop, order_id):
    cur.execute("SELECT order_no, status, payment_status, delivery_status, total, paid_amount,"
                " refunded_amount, created_at FROM order_mgmt.orders"
                " WHERE shop_id = %s AND order_id = %s", (shop, order_id))
    row = cur.fetchone()
    if row is None:
        raise ApiError(404, {"error": "order_not_found"})
    keys = ("order_no", "status", "payment_status", "delivery_status", "total", "paid",
            "refunded", "created_at")
    page = dict(zip(keys, (str(v) if v is not None else None for v in row)))
    cur.execute("SELECT sku, qty, unit_price FROM order_mgmt.order_line"
                " WHERE shop_id = %s AND order_id = %s AND qty > 0 ORDER BY line_no", (shop, order_id))
    page["lines"] = [{"sku": s, "qty": q, "unit_price": str(p)} for s, q, p in cur.fetchall()]
    cur.execute("SELECT kind::text, at FROM order_mgmt.order_event"
                " WHERE shop_id = %s AND order_id = %s ORDER BY event_id", (shop, order_id))
    page["history"] = [{"kind": k, "at": str(a)} for k, a in cur.fetchall()]
    return 200, page


def daily_report(cur, shop, query):
    cur.execute("SELECT * FROM order_mgmt.report_daily_breakdown(%s, %s, %s)",
                (shop, query.get("from", [None])[0], query.get("to", [None])[0]))
    cols = [d.name for d in cur.description]
    return 200, [dict(zip(cols, (str(v) for v in r))) for r in cur.fetchall()]


ROUTES = [
    ("POST", r"^/shops/(\d+)/checkout$", lambda c, m, b, q: checkout(c, int(m[1]), b)),
    ("POST", r"^/shops/(\d+)/payments/callback$", lambda c, m, b, q: payment_callback(c, int(m[1]), b)),
    ("POST", r"^/shops/(\d+)/orders/(\d+)/cancel$", lambda c, m, b, q: cancel(c, int(m[1]), int(m[2]), b)),
    ("POST", r"^/shops/(\d+)/orders/(\d+)/customer-cancel$",
     lambda c, m, b, q: customer_cancel(c, int(m[1]), int(m[2]), b)),
    ("GET", r"^/shops/(\d+)/orders/(\d+)$", lambda c, m, b, q: order_page(c, int(m[1]), int(m[2]))),
    ("GET", r"^/shops/(\d+)/reports/daily$", lambda c, m, b, q: daily_report(c, int(m[1]), q)),
]


def make_handler(pool):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self, method):
            url = urlparse(self.path)
            body = {}
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self.answer(400, {"error": "invalid_json"})
                if not isinstance(body, dict):
                    return self.answer(400, {"error": "invalid_json"})
            for m_, pattern, fn in ROUTES:
                match = re.match(pattern, url.path)
                if m_ == method and match:
                    try:
                        status, out = pool.run(lambda cur: fn(cur, match, body, parse_qs(url.query)))
                    except ApiError as e:
                        status, out = e.status, e.body
                    except psycopg.Error as e:
                        status, out = error_answer(e)
                    return self.answer(status, out)
            return self.answer(404, {"error": "no_such_endpoint"})

        def do_GET(self):
            self.handle_any("GET")

        def do_POST(self):
            self.handle_any("POST")

    return Handler


def serve(port, pool_size=8):
    """Start the server in a thread; returns it (server.shutdown() stops it)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(Pool(pool_size)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    srv = ThreadingHTTPServer(("127.0.0.1", port), make_handler(Pool(8)))
    print("order_mgmt reference backend on http://127.0.0.1:%d" % port, flush=True)
    srv.serve_forever()
