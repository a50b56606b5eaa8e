#!/usr/bin/python3
"""50 customers against the reference backend at once (issue 20): checkouts
over a few scarce SKUs and a code with few uses, idempotent retries, payment
callbacks delivered twice (and some late, after a cancel), cancels and
customer self-cancels.  Then the database is checked: every order the
backend acknowledged exists with its events, nothing is oversold or
over-redeemed, no answer was a 500, and verify() is empty.

Runs against the server in the PG* environment (pg_virtualenv sets it).
Prints TAP lines and "backend: N passed, M failed"; exits non-zero on a
failure.  BACKEND_CUSTOMERS (50) and BACKEND_SEED (1) are knobs.
"""
import json
import os
import random
import socket
import sys
import threading
import urllib.error
import urllib.request

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop_backend  # noqa: E402

CUSTOMERS = int(os.environ.get("BACKEND_CUSTOMERS", "50"))
SEED = int(os.environ.get("BACKEND_SEED", "1"))
SHOP = 1
STOCK = {"RARE-A": 12, "RARE-B": 8, "COMMON": 1000}
CODE_USES = 6

checks = 0
failures = 0


def check(ok, what):
    global checks, failures
    checks += 1
    failures += 0 if ok else 1
    print("%s %d - %s" % ("ok" if ok else "not ok", checks, what), flush=True)


db = psycopg.connect("", autocommit=True)


def sql(query, *args):
    with db.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall() if cur.description else None


sql("CREATE EXTENSION IF NOT EXISTS order_mgmt")
sql("SELECT order_mgmt.create_shop(%s, 'Backend shop')", SHOP)
for sku, n in STOCK.items():
    sql("SELECT order_mgmt.upsert_sku(%s, %s, 100, stock_buckets => %s)", SHOP, sku, 2 if sku == "RARE-B" else 1)
    sql("SELECT order_mgmt.set_stock(%s, %s, %s)", SHOP, sku, n)
sql("SELECT order_mgmt.create_promo(%s, 'LAUNCH', 'amount', 50, usage_limit => %s)", SHOP, CODE_USES)
for c in range(CUSTOMERS):
    sql("SELECT order_mgmt.upsert_customer(%s, %s, %s)", SHOP, "c%d" % c, "c%d@example.com" % c)

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = shop_backend.serve(port, pool_size=8)
base = "http://127.0.0.1:%d/shops/%d" % (port, SHOP)


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


lock = threading.Lock()
answers = []            # (what, status, body)
acknowledged = {}       # order_id -> customer
retry_same = []         # the idempotent retry returned the same order


def note(what, status, body):
    with lock:
        answers.append((what, status, body))


def customer(c):
    rnd = random.Random(SEED * 1000 + c)
    who = "c%d" % c
    lines = [{"sku": rnd.choice(["RARE-A", "RARE-B"]), "qty": rnd.randint(1, 2)}]
    if rnd.random() < 0.5:
        lines.append({"sku": "COMMON", "qty": 1})
    body = {"lines": lines, "customer_id": who, "idempotency_key": "cart-%d" % c}
    if rnd.random() < 0.5:
        body["promo_code"] = "LAUNCH"
    status, out = call("POST", "/checkout", body)
    note("checkout", status, out)
    if status != 201:
        if out.get("error") == "promo_code_used_up":      # try again without the code
            del body["promo_code"]
            body["idempotency_key"] += "-b"
            status, out = call("POST", "/checkout", body)
            note("checkout", status, out)
        if status != 201:
            return
    order_id = out["order_id"]
    with lock:
        acknowledged[order_id] = who
    again = call("POST", "/checkout", body)                 # the client retries: same order
    with lock:
        retry_same.append(again == (201, {"order_id": order_id}))
    status, page = call("GET", "/orders/%d" % order_id)
    note("page", status, page)
    total = page.get("total")
    roll = rnd.random()
    ref = "psp-%d" % c
    if roll < 0.6:                       # paid; the provider calls back twice
        for _ in range(2):
            note("paid", *call("POST", "/payments/callback",
                               {"order_id": order_id, "status": "succeeded", "amount": total, "provider_ref": ref}))
    elif roll < 0.7:                     # declined
        note("declined", *call("POST", "/payments/callback",
                               {"order_id": order_id, "status": "failed", "provider_ref": ref}))
    elif roll < 0.85:                    # the customer cancels; a late callback follows
        note("customer_cancel", *call("POST", "/orders/%d/customer-cancel" % order_id,
                                      {"customer_id": who, "reason": "changed_mind"}))
        note("late_paid", *call("POST", "/payments/callback",
                                {"order_id": order_id, "status": "succeeded", "amount": total, "provider_ref": ref}))
    else:                                # the merchant cancels; then the customer tries too
        note("cancel", *call("POST", "/orders/%d/cancel" % order_id, {"reason": "out_of_stock"}))
        note("customer_cancel_after", *call("POST", "/orders/%d/customer-cancel" % order_id,
                                            {"customer_id": who}))


threads = [threading.Thread(target=customer, args=(c,)) for c in range(CUSTOMERS)]
for t in threads:
    t.start()
for t in threads:
    t.join()

by = {}
for what, status, body in answers:
    by.setdefault(what, []).append((status, body))

check(not [a for a in answers if a[1] >= 500],
      "no answer was a 5xx (%d answers)" % len(answers))
codes = sorted({(s, b.get("error")) for s, b in by.get("checkout", []) if s != 201})
check(all(s in (409, 422) for s, _ in codes),
      "refused checkouts are 409/422 with a name: %s" % codes)
sold_out = [b for s, b in by.get("checkout", []) if b.get("error") == "sold_out"]
check(all(b.get("sku") in ("RARE-A", "RARE-B") for b in sold_out),
      "every sold_out names its scarce SKU (%d sold out)" % len(sold_out))
check(retry_same and all(retry_same), "a retried checkout with its idempotency key returns the same order (%d)"
      % len(retry_same))
paid = by.get("paid", [])
check(paid and all(s == 200 and b.get("payment_status") == "paid" for s, b in paid),
      "payment callbacks, each delivered twice, answer paid both times (%d)" % len(paid))
late = by.get("late_paid", [])
check(all(s == 200 for s, _ in late), "late callbacks after a cancel are accepted (%s)"
      % sorted({b.get("payment_status") for _, b in late}))
after = by.get("customer_cancel_after", [])
check(all(s == 409 and b.get("reason") for s, b in after),
      "a customer cannot cancel a cancelled order: 409 with the reason (%d)" % len(after))

# the database afterwards
ids = list(acknowledged)
rows = sql("SELECT order_id FROM order_mgmt.orders WHERE shop_id = %s AND order_id = ANY(%s)", SHOP, ids)
check(len(rows) == len(ids), "every acknowledged order exists (%d)" % len(ids))
missing_events = sql("SELECT count(*) FROM unnest(%s::bigint[]) o(id) WHERE NOT EXISTS"
                     " (SELECT FROM order_mgmt.order_event e WHERE e.shop_id = %s AND e.order_id = o.id"
                     "  AND e.kind = 'checkout')", ids, SHOP)[0][0]
check(missing_events == 0, "every acknowledged order has its checkout event")
extra = sql("SELECT count(*) FROM order_mgmt.orders WHERE shop_id = %s AND NOT (order_id = ANY(%s))", SHOP, ids)[0][0]
check(extra == 0, "no order the backend did not acknowledge")
for sku in ("RARE-A", "RARE-B"):
    held, avail = sql("SELECT reserved, available FROM order_mgmt.stock_level WHERE shop_id = %s AND sku = %s",
                      SHOP, sku)[0]
    live = sql("SELECT coalesce(sum(l.qty), 0) FROM order_mgmt.order_line l JOIN order_mgmt.orders o"
               " USING (shop_id, order_id) WHERE o.shop_id = %s AND l.sku = %s AND o.status <> 'cancelled'",
               SHOP, sku)[0][0]
    check(avail >= 0 and held == live and held <= STOCK[sku],
          "%s: %d held by live orders of %d, none oversold" % (sku, held, STOCK[sku]))
used = sql("SELECT used FROM order_mgmt.promo_code WHERE shop_id = %s AND code_key = 'launch'", SHOP)[0][0]
live_codes = sql("SELECT count(*) FROM order_mgmt.orders WHERE shop_id = %s AND promo_key = 'launch'"
                 " AND status <> 'cancelled'", SHOP)[0][0]
check(used <= CODE_USES and used == live_codes, "LAUNCH used %d of %d, by the live orders that carry it" %
      (used, CODE_USES))
status, report = call("GET", "/reports/daily?from=2020-01-01&to=2029-12-31")
check(status == 200 and sum(int(r["orders"]) for r in report) == len(ids),
      "the daily report endpoint counts every order")
bad = sql("SELECT count(*) FROM order_mgmt.verify(%s)", SHOP)[0][0]
check(bad == 0, "verify() is empty")

server.shutdown()
print("backend: %d passed, %d failed" % (checks - failures, failures))
sys.exit(1 if failures else 0)
