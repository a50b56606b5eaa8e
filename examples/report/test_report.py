#!/usr/bin/python3
"""The report page in a real browser (issue 20): a shop with a few days of
orders made on the test clock (every bucket of the daily breakdown, lost
orders, cancels by merchant and customer, every follow-up group), the page
written by report_page.py and opened in headless Chromium.  Checks: the
page loads nothing from the network, its script ran without an error, the
charts drew (painted pixels, and each series' own colour inside the plot
area exactly when it has a value), the screenshot is not blank, and every
number in the page equals the report's.

Runs against the server in the PG* environment (pg_virtualenv sets it).
Prints TAP lines and "report: N passed, M failed"; exits non-zero on a
failure.  REPORT_KEEP=DIR keeps the page and the screenshot there.
"""
import datetime
import html.parser
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from decimal import Decimal

import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = 1810
FROM, TO = datetime.date(2026, 3, 1), datetime.date(2026, 3, 5)
NOW = "2026-03-04T12:00+08"        # the follow-ups are as of then


class Tap:
    """Numbered TAP lines; finish() closes with "NAME: N passed, M failed"
    and exits non-zero after a failure."""

    def __init__(self, name):
        self.name, self.count, self.failed = name, 0, 0

    def check(self, ok, what):
        self.count += 1
        self.failed += not ok
        print("%s %d - %s" % ("ok" if ok else "not ok", self.count, what), flush=True)
        return ok

    def finish(self):
        print("%s: %d passed, %d failed" % (self.name, self.count - self.failed, self.failed))
        sys.exit(1 if self.failed else 0)


tap = Tap("report")
check = tap.check


db = psycopg.connect("", autocommit=True)


def sql(query, *args):
    with db.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall() if cur.description else None


def one(query, *args):
    return sql(query, *args)[0][0]


def at(instant):
    sql("SELECT set_config('order_mgmt.clock', %s, false)", instant)


def order(instant, sku, qty, customer=None, timeout="30 days"):
    at(instant)
    return one("SELECT order_mgmt.checkout(%s, %s, customer_id => %s, payment_timeout => %s)",
               SHOP, json.dumps([{"sku": sku, "qty": qty}]), customer, timeout)


# --- a shop with a few days of orders (Asia/Taipei, so days cut at 16:00 UTC)
sql("CREATE EXTENSION IF NOT EXISTS order_mgmt")
sql("SELECT order_mgmt.create_shop(%s, 'Report <shop> & co', 'TWD', 'zh-TW', 'Asia/Taipei')", SHOP)
sql("""SELECT order_mgmt.update_shop(%s, '{"high_value_threshold": 1000, "followup_window": "3 days"}')""", SHOP)
for sku, price in (("TEE-M", 100), ("TEE-L", 100), ("MUG", 1500)):
    sql("SELECT order_mgmt.upsert_sku(%s, %s, %s)", SHOP, sku, price)
    sql("SELECT order_mgmt.set_stock(%s, %s, 100)", SHOP, sku)
for c in ("regular", "newbie"):
    sql("SELECT order_mgmt.upsert_customer(%s, %s, %s)", SHOP, c, c + "@example.com")

a = order("2026-03-01 09:00+08", "TEE-M", 1, "regular")
sql("SELECT order_mgmt.mark_paid(%s, %s)", SHOP, a)                       # paid, unshipped
order("2026-03-01 10:00+08", "TEE-L", 2)                                   # unpaid
c = order("2026-03-01 11:00+08", "TEE-M", 1)
sql("SELECT order_mgmt.mark_paid(%s, %s)", SHOP, c)
sql("SELECT order_mgmt.ship(%s, %s)", SHOP, c)                            # shipped
d = order("2026-03-01 12:00+08", "TEE-M", 3, "regular")
sql("SELECT order_mgmt.mark_paid(%s, %s)", SHOP, d)
sql("SELECT order_mgmt.ship(%s, %s)", SHOP, d)
sql("SELECT order_mgmt.complete(%s, %s)", SHOP, d)                        # settled
e = order("2026-03-01 13:00+08", "TEE-L", 1)
sql("SELECT order_mgmt.add_note(%s, %s, 'support', 'asked about sizes')", SHOP, e)
sql("SELECT order_mgmt.cancel(%s, %s, 'size_unavailable')", SHOP, e)      # closed unpaid, after support
g = order("2026-03-01 23:59+08", "MUG", 1)
sql("SELECT order_mgmt.mark_paid(%s, %s)", SHOP, g)
sql("SELECT order_mgmt.refund(%s, %s, 300)", SHOP, g)                     # refunded 300 + paid_unshipped
h = order("2026-03-02 00:00+08", "TEE-M", 1, "newbie")
at("2026-03-02 00:30+08")
sql("SELECT order_mgmt.customer_cancel(%s, %s, 'newbie', 'shipping_cost')", SHOP, h)  # lost, self-service
i = order("2026-03-02 08:00+08", "TEE-L", 2)
sql("SELECT order_mgmt.payment_failed(%s, %s, 'declined')", SHOP, i)
j = order("2026-03-02 09:00+08", "TEE-M", 2)
sql("SELECT order_mgmt.cancel(%s, %s, 'changed_mind')", SHOP, j)          # lost, merchant
k = order("2026-03-03 09:00+08", "TEE-L", 1, "newbie")
sql("SELECT order_mgmt.add_note(%s, %s, 'customer', 'please gift wrap')", SHOP, k)
order("2026-03-03 10:00+08", "MUG", 1, "newbie")                           # high value
order("2026-03-03 10:30+08", "TEE-M", 1, timeout="1 hour")                  # unpaid, deadline past
m = order("2026-03-03 11:00+08", "TEE-M", 1, "regular")
sql("SELECT order_mgmt.mark_paid(%s, %s)", SHOP, m)
sql("SELECT order_mgmt.ship(%s, %s)", SHOP, m)
sql("SELECT order_mgmt.set_delivery_status(%s, %s, 'arrived')", SHOP, m)  # unconfirmed
n = order("2026-03-04 10:00+08", "TEE-L", 1)
at("2026-03-04 11:00+08")
sql("SELECT order_mgmt.cancel(%s, %s, 'changed_mind')", SHOP, n)          # lost today
at(NOW)

# --- the page
tmp = tempfile.mkdtemp(prefix="om-report-")
keep = os.environ.get("REPORT_KEEP")
out_dir = keep or tmp
os.makedirs(out_dir, exist_ok=True)
page = os.path.join(out_dir, "report.html")
env = dict(os.environ, PGOPTIONS=(os.environ.get("PGOPTIONS", "") + " -c order_mgmt.clock=" + NOW))


def report_page(shop, to_day, out):
    return subprocess.run([sys.executable, os.path.join(HERE, "report_page.py"), str(shop), FROM.isoformat(),
                           to_day.isoformat(), "-o", out], env=env, capture_output=True, text=True)


r = report_page(SHOP, TO, page)
if not check(r.returncode == 0, "report_page.py wrote the page"):
    print(r.stdout + r.stderr)
    tap.finish()
source = open(page, encoding="utf-8").read()
check("<script src" not in source.lower() and "<link" not in source.lower() and "url(" not in source
      and "@import" not in source, "the page loads nothing: no script src, link, url() or @import")
check("Chart.js v" in source, "Chart.js is inlined (%d bytes of page)" % len(source))


def chromium(*args, url=page):
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp)
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--hide-scrollbars",
           "--virtual-time-budget=5000", "--window-size=1200,2400", *args, "file://" + url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, HOME=profile))


dom = chromium("--dump-dom")
check(dom.returncode == 0 and "</html>" in dom.stdout, "chromium dumped the DOM")


class Page(html.parser.HTMLParser):
    """The attributes the test reads: the root's, the canvases', and the
    data-key cells of each data-table row."""

    def __init__(self):
        super().__init__()
        self.root, self.canvases, self.rows, self.counts = {}, {}, {}, {}
        self.row = None
        self.cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.root = a
        elif tag == "canvas":
            self.canvases[a.get("id")] = a
        elif tag == "tr" and "data-table" in a:
            self.row = self.rows.setdefault((a["data-table"], a["data-row"]), {})
        elif tag == "td" and self.row is not None and "data-key" in a:
            self.cell = a["data-key"]
            self.row[self.cell] = [a["data-value"], ""]
        elif tag == "span" and "data-followups" in a:
            self.cell = ("count", a["data-followups"])

    def handle_endtag(self, tag):
        if tag == "tr":
            self.row = None
        if tag in ("td", "span"):
            self.cell = None

    def handle_data(self, data):
        if isinstance(self.cell, tuple):
            self.counts[self.cell[1]] = data.strip()
        elif self.cell is not None:
            self.row[self.cell][1] += data


p = Page()
p.feed(dom.stdout)
check(p.root.get("data-rendered") == "yes" and "data-error" not in p.root,
      "the page's script ran to the end without an error (%s)" % p.root.get("data-error", "none"))

# --- the charts drew
series = {}
for cid in ("daily", "reasons-chart"):
    cv = p.canvases.get(cid, {})
    painted = int(cv.get("data-painted", "0"))
    check(painted > 5000, "canvas %s is painted (%d pixels)" % (cid, painted))
    series[cid] = json.loads(cv.get("data-series", "[]"))
daily = sql("SELECT * FROM order_mgmt.report_daily_breakdown(%s, %s, %s)", SHOP, FROM, TO)
buckets = ["unpaid", "paid_unshipped", "shipped", "settled", "closed_unpaid", "refunded"]
by_day = {row[0].isoformat(): dict(zip(["orders", "total"] + buckets, row[1:])) for row in daily}
days = [(FROM + datetime.timedelta(days=x)).isoformat() for x in range((TO - FROM).days + 1)]
bars = series["daily"][:6]
ok = len(bars) == 6
for b, s in zip(buckets, bars):
    want = [float(by_day[d][b]) if d in by_day else 0.0 for d in days]
    ok = ok and s["data"] == want and (s["pixels"] > 0) == any(want)
check(ok, "each stacked series charts its bucket per day, and has pixels exactly when it has value: %s"
      % ", ".join("%s %d px" % (b, s["pixels"]) for b, s in zip(buckets, bars)))
check(all(any(by_day[d][b] for d in by_day) for b in buckets), "the shop's days reach every bucket")
lost = {row[0].isoformat(): row for row in
        sql("SELECT * FROM order_mgmt.report_lost_orders(%s, %s, %s)", SHOP, FROM, TO)}
line = series["daily"][6] if len(series["daily"]) > 6 else {"data": [], "pixels": 0}
want = [float(lost[d][3]) * 100 if d in lost else None for d in days]
check(line["data"] == want and line["pixels"] > 0,
      "the lost-rate line charts report_lost_orders (%s %%, %d px)"
      % ([None if x is None else round(x, 2) for x in want], line["pixels"]))
reasons = sql("SELECT reason::text, source::text, orders, amount, share "
              "FROM order_mgmt.report_cancel_reasons(%s, %s, %s)", SHOP, FROM, TO)
rs = series["reasons-chart"]
check(len(rs) == 1 and rs[0]["data"] == [row[2] for row in reasons] and rs[0]["pixels"] > 0,
      "the cancel-reasons chart charts report_cancel_reasons (%d px)" % (rs[0]["pixels"] if rs else 0))


# --- the numbers in the page equal the report's
def same(cell, value):
    if value is None:
        return cell is not None and cell[0] == ""
    if cell is None:
        return False
    if isinstance(value, (int, Decimal)):
        return Decimal(cell[0]) == value
    return cell[0] == str(value)


def money(v):
    return one("SELECT order_mgmt.format_money(%s, 'TWD', 'zh-TW')", v)


bad = []
for dday in days:
    row = p.rows.get(("daily", dday), {})
    want = by_day.get(dday, dict.fromkeys(["orders", "total"] + buckets, 0))
    for k, v in want.items():
        if not same(row.get(k), v) or (k != "orders" and row[k][1] != money(v)):
            bad.append("%s %s: page %s, report %s" % (dday, k, row.get(k), v))
    lo = lost.get(dday)
    for k, v in zip(["closed", "lost_rate", "closed_after_support"], [lo[2], lo[3], lo[4]] if lo else [0, None, 0]):
        if not same(row.get(k), v):
            bad.append("%s %s: page %s, report %s" % (dday, k, row.get(k), v))
check(not bad and len([k for k in p.rows if k[0] == "daily"]) == len(days),
      "the daily table shows every day's report_daily_breakdown and report_lost_orders values%s"
      % (": " + "; ".join(bad[:5]) if bad else ""))

bad = []
for reason, source, orders, amount, share in reasons:
    row = p.rows.get(("reasons", "%s/%s" % (reason, source)), {})
    if not (same(row.get("orders"), orders) and same(row.get("amount"), amount)
            and same(row.get("share"), share) and row["amount"][1] == money(amount)):
        bad.append("%s/%s: %s" % (reason, source, row))
check(not bad and len([k for k in p.rows if k[0] == "reasons"]) == len(reasons) == 3,
      "the cancel reasons table equals report_cancel_reasons (%d rows)%s"
      % (len(reasons), ": " + "; ".join(bad) if bad else ""))

at(NOW)
follow = sql("SELECT order_id, customer_id, email, total, payment_status::text, channel, why, followup, ship_to "
             "FROM order_mgmt.report_followups(%s)", SHOP)
bad = []
for oid, cust, email, total, pay, channel, why, group, ship_to in follow:
    row = p.rows.get(("followups", str(oid)), {})
    for k, v in (("customer_id", cust), ("email", email), ("total", total), ("payment_status", pay),
                 ("channel", channel), ("why", why)):
        if not same(row.get(k), "" if v is None else v):
            bad.append("%d %s: page %s, report %s" % (oid, k, row.get(k), v))
groups = {g: sum(1 for f in follow if f[7] == g) for g in ("closing", "unpaid", "lost", "unconfirmed")}
check(not bad and len([k for k in p.rows if k[0] == "followups"]) == len(follow)
      and {g: int(p.counts.get(g, -1)) for g in groups} == groups,
      "the follow-up lists equal report_followups, group by group %s%s"
      % (groups, ": " + "; ".join(bad[:5]) if bad else ""))
check(all(groups.values()), "every follow-up group has an order")
check("Report &lt;shop&gt; &amp; co" in dom.stdout, "text from the database is escaped")

# --- a screenshot that is not blank


def png_pixels(path):
    """(width, height, rows of bytes, bytes per pixel) of an 8-bit RGB(A) PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            up, ul = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + left) & 255
            elif f == 2:
                line[x] = (line[x] + up) & 255
            elif f == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(up - ul), abs(left - ul), abs(left + up - 2 * ul)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else ul)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


shot = os.path.join(out_dir, "report.png")
r = chromium("--screenshot=" + shot)
if check(r.returncode == 0 and os.path.exists(shot), "chromium took a screenshot"):
    w, h, rows, bpp = png_pixels(shot)
    colours = {}
    for line in rows[:700]:                     # the chart is at the top
        for x in range(0, w * bpp, bpp):
            px = line[x:x + 3]
            colours[px] = colours.get(px, 0) + 1
    wanted = {bytes.fromhex(c) for c in ("f2a93b", "3b82c4", "7c5cc4", "2e9e5b", "9aa0a6", "d6455d")}
    seen = {c.hex() for c in wanted if colours.get(c, 0) > 50}
    non_white = sum(n for c, n in colours.items() if c != b"\xff\xff\xff")
    check(len(seen) == 6 and non_white > 20000,
          "the screenshot shows the chart: %d non-white pixels, %d of 6 bucket colours" % (non_white, len(seen)))

# --- a shop without orders: an empty page that still draws; no shop: an error
sql("SELECT order_mgmt.create_shop(%s, 'Empty shop')", SHOP + 1)
empty = os.path.join(out_dir, "empty.html")
r = report_page(SHOP + 1, FROM, empty)
e = Page()
e.feed(chromium("--dump-dom", url=empty).stdout if r.returncode == 0 else "")
check(e.root.get("data-rendered") == "yes" and "data-error" not in e.root and "reasons-chart" not in e.canvases
      and int(e.canvases.get("daily", {}).get("data-painted", "0")) > 0
      and e.rows.get(("daily", FROM.isoformat()), {}).get("orders", [""])[0] == "0"
      and not any(k[0] != "daily" for k in e.rows),
      "a shop without orders: the page draws its empty day, no cancel reasons, no follow-ups")
missing = os.path.join(out_dir, "missing.html")
r = report_page(SHOP + 9, FROM, missing)
check(r.returncode != 0 and "shop %d does not exist" % (SHOP + 9) in r.stderr and not os.path.exists(missing),
      "a shop that does not exist: an error, and no page")
r = report_page(SHOP, FROM - datetime.timedelta(days=1), missing)
check(r.returncode != 0 and "to_day must not be before from_day" in r.stderr and not os.path.exists(missing),
      "to_day before from_day: an error, and no page")

check(sql("SELECT * FROM order_mgmt.verify(%s)", SHOP) == [], "verify() is empty")
tap.finish()
