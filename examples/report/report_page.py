#!/usr/bin/python3
"""The seed 002 daily report as one self-contained HTML page (issue 20).

DBAs read tables, merchants look at pictures.  This script reads a shop's
reports for a range of shop-local days

  report_daily_breakdown  the day's order value split into unpaid /
                          paid-unshipped / shipped / settled / closed unpaid /
                          refunded: a stacked bar per day
  report_lost_orders      the lost-order rate: a line over the bars
  report_followups        the orders to chase now, by group
  report_cancel_reasons   why orders were cancelled, and by whom

and writes one HTML file with Chart.js inlined (examples/report/package.json
pins it; `npm ci` in this folder installs it), so the page needs no network
when it is opened.  Every number is also in the page's tables, each cell
carrying the report's exact value in data-value; money is shown as
order_mgmt.format_money() writes it in the shop's locale.

Run: PG* environment variables say where the database is (a role with
order_mgmt_report is enough);
     python3 report_page.py SHOP FROM_DAY TO_DAY [-o page.html]
"""
import argparse
import datetime
import html
import json
import os
import sys

import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
CHART_JS = os.path.join(HERE, "node_modules", "chart.js", "dist", "chart.umd.min.js")

# (column of report_daily_breakdown, legend, colour): the colours are opaque
# and distinct, so the page can count each series' pixels after drawing.
BUCKETS = [
    ("unpaid", "Unpaid", "#f2a93b"),
    ("paid_unshipped", "Paid, not shipped", "#3b82c4"),
    ("shipped", "Shipped", "#7c5cc4"),
    ("settled", "Settled", "#2e9e5b"),
    ("closed_unpaid", "Closed unpaid", "#9aa0a6"),
    ("refunded", "Refunded", "#d6455d"),
]
LOST_COLOUR = "#202124"
REASON_COLOUR = "#c4603b"
FOLLOWUPS = [
    ("closing", "Closing: unpaid, deadline ahead"),
    ("unpaid", "Unpaid"),
    ("lost", "Lost today: closed before payment"),
    ("unconfirmed", "Arrived, not confirmed"),
]


def read_report(conn, shop, from_day, to_day):
    """Everything the page shows, as plain data (numbers as exact strings)."""
    with conn.cursor() as cur:
        cur.execute("SELECT name, currency, locale, timezone, "
                    "to_char(order_mgmt.now() AT TIME ZONE timezone, 'YYYY-MM-DD HH24:MI') "
                    "FROM order_mgmt.shop WHERE shop_id = %s", (shop,))
        row = cur.fetchone()
        if row is None:
            raise SystemExit("report_page: shop %d does not exist" % shop)
        name, currency, locale, tz, now = row

        cur.execute("SELECT * FROM order_mgmt.report_daily_breakdown(%s, %s, %s)", (shop, from_day, to_day))
        cols = [d.name for d in cur.description]
        by_day = {r[0]: dict(zip(cols, r)) for r in cur.fetchall()}
        cur.execute("SELECT * FROM order_mgmt.report_lost_orders(%s, %s, %s)", (shop, from_day, to_day))
        cols = [d.name for d in cur.description]
        lost_by_day = {r[0]: dict(zip(cols, r)) for r in cur.fetchall()}
        cur.execute("SELECT reason, order_mgmt.label(reason, %s), source, orders, amount, share "
                    "FROM order_mgmt.report_cancel_reasons(%s, %s, %s)", (locale, shop, from_day, to_day))
        reasons = [dict(zip(("reason", "label", "source", "orders", "amount", "share"), r))
                   for r in cur.fetchall()]
        cur.execute("SELECT order_id, order_no, customer_id, email, total, payment_status, "
                    "created_at AT TIME ZONE %s, channel, why, followup, time_left, ship_to "
                    "FROM order_mgmt.report_followups(%s)", (tz, shop))
        cols = [d.name for d in cur.description]
        followups = [dict(zip(cols, r)) for r in cur.fetchall()]

        days = []
        day = from_day
        while day <= to_day:                # every day of the range, empty ones too
            d = by_day.get(day)
            lo = lost_by_day.get(day)
            days.append({
                "day": day.isoformat(),
                "orders": d["orders"] if d else 0,
                "total": str(d["total"]) if d else "0",
                **{b: str(d[b]) if d else "0" for b, _, _ in BUCKETS},
                "closed": lo["closed"] if lo else 0,
                "lost_rate": str(lo["lost_rate"]) if lo else None,
                "closed_after_support": lo["closed_after_support"] if lo else 0,
                "closed_self_service": lo["closed_self_service"] if lo else 0,
            })
            day += datetime.timedelta(days=1)
        for r in reasons:
            r["amount"] = str(r["amount"])
            r["share"] = str(r["share"])
        for f in followups:
            f["total"] = str(f["total"])
        # money as the shop's locale writes it, in one round trip
        amounts = sorted({d[k] for d in days for k in ["total"] + [b for b, _, _ in BUCKETS]}
                         | {r["amount"] for r in reasons} | {f["total"] for f in followups})
        cur.execute("SELECT v, order_mgmt.format_money(v::numeric, %s, %s) FROM unnest(%s::text[]) v",
                    (currency, locale, amounts))
        money = dict(cur.fetchall())
        for d in days:
            d["shown"] = {k: money[d[k]] for k in ["total"] + [b for b, _, _ in BUCKETS]}
        for r in reasons:
            r["shown_amount"] = money[r["amount"]]
        for f in followups:
            f["shown_total"] = money[f["total"]]
        return {"shop": shop, "name": name, "currency": currency, "locale": locale, "timezone": tz,
                "from": from_day.isoformat(), "to": to_day.isoformat(),
                "now": now,
                "days": days, "reasons": reasons, "followups": followups}


def esc(v):
    return html.escape("" if v is None else str(v), quote=True)


def cell(key, value, shown=None, cls=""):
    """A table cell carrying the report's exact value."""
    return '<td data-key="%s" data-value="%s"%s>%s</td>' % (
        esc(key), esc(value), ' class="%s"' % cls if cls else "", esc(value if shown is None else shown))


def percent(share):
    return "" if share is None else "%.1f%%" % (float(share) * 100)


def waited(t):
    if t is None:
        return ""
    s = int(t.total_seconds())
    return "%d d %02d:%02d" % (s // 86400, s % 86400 // 3600, s % 3600 // 60)


def daily_table(rep):
    head = "".join("<th>%s</th>" % esc(label) for _, label, _ in BUCKETS)
    rows = []
    for d in rep["days"]:
        rows.append('<tr data-table="daily" data-row="%s"><th>%s</th>%s%s%s%s%s%s</tr>' % (
            d["day"], d["day"], cell("orders", d["orders"], cls="n"),
            "".join(cell(b, d[b], d["shown"][b], "n") for b, _, _ in BUCKETS),
            cell("total", d["total"], d["shown"]["total"], "n"),
            cell("closed", d["closed"], cls="n"),
            cell("lost_rate", d["lost_rate"] or "", percent(d["lost_rate"]), "n"),
            cell("closed_after_support", d["closed_after_support"], cls="n")))
    return ('<table><thead><tr><th>Day</th><th>Orders</th>%s<th>Total</th><th>Lost</th>'
            '<th>Lost rate</th><th>Lost after support</th></tr></thead><tbody>%s</tbody></table>'
            % (head, "".join(rows)))


def reasons_table(rep):
    if not rep["reasons"]:
        return '<p class="none">No cancellations in this range.</p>'
    rows = "".join(
        '<tr data-table="reasons" data-row="%s/%s"><th>%s</th>%s%s%s%s</tr>' % (
            esc(r["reason"]), esc(r["source"]), esc(r["label"]), cell("source", r["source"]),
            cell("orders", r["orders"], cls="n"), cell("amount", r["amount"], r["shown_amount"], "n"),
            cell("share", r["share"], percent(r["share"]), "n"))
        for r in rep["reasons"])
    return ('<table><thead><tr><th>Reason</th><th>By</th><th>Orders</th><th>Amount</th><th>Share</th>'
            '</tr></thead><tbody>%s</tbody></table>' % rows)


def followups_lists(rep):
    out = []
    for group, title in FOLLOWUPS:
        rows = [f for f in rep["followups"] if f["followup"] == group]
        out.append('<h3>%s <span class="count" data-followups="%s">%d</span></h3>' % (esc(title), group, len(rows)))
        if not rows:
            out.append('<p class="none">None.</p>')
            continue
        out.append('<table><thead><tr><th>Order</th><th>Customer</th><th>Email</th><th>Total</th>'
                   '<th>Payment</th><th>Contact by</th><th>Why</th><th>Time left</th><th>Ship to</th>'
                   '</tr></thead><tbody>')
        for f in rows:
            out.append('<tr data-table="followups" data-row="%d"><th>%s</th>%s%s%s%s%s%s%s%s</tr>' % (
                f["order_id"], esc(f["order_no"]), cell("customer_id", f["customer_id"]),
                cell("email", f["email"]), cell("total", f["total"], f["shown_total"], "n"),
                cell("payment_status", f["payment_status"]), cell("channel", f["channel"]),
                cell("why", f["why"]), cell("time_left", waited(f["time_left"]), cls="n"),
                cell("ship_to", f["ship_to"])))
        out.append("</tbody></table>")
    return "\n".join(out)


def script_json(value):
    """JSON that can stand inside <script>: no "</" or "<!--" in it."""
    return json.dumps(value, default=str).replace("<", "\\u003c")


PAGE = """<!DOCTYPE html>
<html lang="%(lang)s">
<head>
<meta charset="utf-8">
<title>%(title)s</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #202124; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 16px 0 6px; } .meta, .none { color: #5f6368; }
table { border-collapse: collapse; margin: 4px 0 12px; } th, td { padding: 3px 8px; border-bottom: 1px solid #e0e0e0; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } thead th { background: #f5f5f5; }
.count { color: #5f6368; font-weight: normal; } tbody th { white-space: nowrap; }
</style>
</head>
<body>
<h1>%(title)s</h1>
<p class="meta">%(range)s (%(tz)s) &middot; follow-ups as of %(now)s &middot; order_mgmt seed 002 report</p>
<h2>Order value per day, and the lost-order rate</h2>
<canvas id="daily" width="1000" height="380" role="img" aria-label="Order value per day by state; lost-order rate"></canvas>
%(daily)s
<h2>Follow-ups</h2>
%(followups)s
<h2>Cancel reasons</h2>
%(reasons_chart)s
%(reasons)s
<script type="application/json" id="report-data">%(data)s</script>
<script>
%(chartjs)s
</script>
<script>
(function () {
  var root = document.documentElement;
  window.addEventListener("error", function (e) { root.dataset.error = String(e.message); });
  var rep = JSON.parse(document.getElementById("report-data").textContent);
  var buckets = %(buckets)s;
  var money;
  try {
    money = new Intl.NumberFormat(rep.locale.replace("_", "-"), { style: "currency", currency: rep.currency });
  } catch (e) {
    money = new Intl.NumberFormat("en");
  }
  var charts = [];
  var daily = new Chart(document.getElementById("daily"), {
    type: "bar",
    data: {
      labels: rep.days.map(function (d) { return d.day; }),
      datasets: buckets.map(function (b) {
        return { label: b[1], data: rep.days.map(function (d) { return Number(d[b[0]]); }),
                 backgroundColor: b[2], borderWidth: 0, stack: "value", yAxisID: "y", order: 2 };
      }).concat([{ type: "line", label: "Lost-order rate", yAxisID: "y1", order: 1,
                   data: rep.days.map(function (d) { return d.lost_rate === null ? null : Number(d.lost_rate) * 100; }),
                   borderColor: "%(lost)s", backgroundColor: "%(lost)s", borderWidth: 3, pointRadius: 4 }])
    },
    options: {
      responsive: false, animation: false, devicePixelRatio: 1,
      scales: {
        x: { stacked: true },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: rep.currency },
             ticks: { callback: function (v) { return money.format(v); } } },
        y1: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false },
              title: { display: true, text: "lost %%" }, ticks: { callback: function (v) { return v + "%%"; } } }
      },
      plugins: { tooltip: { callbacks: { label: function (c) {
        return c.dataset.yAxisID === "y1" ? c.dataset.label + ": " + c.parsed.y.toFixed(1) + "%%"
                                          : c.dataset.label + ": " + money.format(c.parsed.y); } } } }
    }
  });
  charts.push(daily);
  var rc = document.getElementById("reasons-chart");
  if (rc) {
    charts.push(new Chart(rc, {
      type: "bar",
      data: { labels: rep.reasons.map(function (r) { return r.label + " (" + r.source + ")"; }),
              datasets: [{ label: "Orders", data: rep.reasons.map(function (r) { return r.orders; }),
                           backgroundColor: "%(reason)s", borderWidth: 0 }] },
      options: { indexAxis: "y", responsive: false, animation: false, devicePixelRatio: 1,
                 plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    }));
  }
  // What was drawn, for tests and the curious: per canvas the painted
  // pixels, and per series its values and its pixels inside the plot area.
  function hex(c) { return [1, 3, 5].map(function (i) { return parseInt(c.substr(i, 2), 16); }); }
  charts.forEach(function (ch) {
    var cv = ch.canvas, a = ch.chartArea, ctx = cv.getContext("2d");
    var all = ctx.getImageData(0, 0, cv.width, cv.height).data, painted = 0;
    for (var i = 3; i < all.length; i += 4) if (all[i]) painted++;
    var x0 = Math.ceil(a.left), y0 = Math.ceil(a.top);
    var area = ctx.getImageData(x0, y0, Math.floor(a.right) - x0, Math.floor(a.bottom) - y0).data;
    var series = ch.data.datasets.map(function (ds) {
      var c = hex(ds.backgroundColor), n = 0;
      for (var i = 0; i < area.length; i += 4)
        if (area[i] === c[0] && area[i + 1] === c[1] && area[i + 2] === c[2] && area[i + 3] === 255) n++;
      return { label: ds.label, data: ds.data, pixels: n };
    });
    cv.dataset.painted = painted;
    cv.dataset.series = JSON.stringify(series);
  });
  root.dataset.rendered = "yes";
})();
</script>
</body>
</html>
"""


def render(rep, chart_js):
    if "</script" in chart_js.lower() or "<!--" in chart_js:
        raise SystemExit("report_page: the chart library cannot be inlined as it is")
    title = "%s: orders %s to %s" % (rep["name"], rep["from"], rep["to"])
    return PAGE % {
        "lang": esc(rep["locale"]), "title": esc(title), "tz": esc(rep["timezone"]),
        "range": esc("%s .. %s" % (rep["from"], rep["to"])), "now": esc(rep["now"]),
        "daily": daily_table(rep), "followups": followups_lists(rep), "reasons": reasons_table(rep),
        "reasons_chart": ('<canvas id="reasons-chart" width="700" height="%d" role="img" '
                          'aria-label="Cancelled orders by reason"></canvas>' % (60 + 36 * len(rep["reasons"]))
                          if rep["reasons"] else ""),
        "data": script_json(rep), "chartjs": chart_js, "buckets": script_json(BUCKETS),
        "lost": LOST_COLOUR, "reason": REASON_COLOUR,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description="Write a shop's seed 002 report as one self-contained HTML page.")
    p.add_argument("shop", type=int)
    p.add_argument("from_day", type=datetime.date.fromisoformat)
    p.add_argument("to_day", type=datetime.date.fromisoformat)
    p.add_argument("-o", "--output", help="the HTML file (default report-SHOP-FROM-TO.html)")
    p.add_argument("--dsn", default="", help="libpq connection string (default: the PG* environment)")
    a = p.parse_args(argv)
    if a.to_day < a.from_day:
        p.error("to_day must not be before from_day")
    if not os.path.exists(CHART_JS):
        raise SystemExit("report_page: %s is missing: run `npm ci` in %s" % (CHART_JS, HERE))
    with open(CHART_JS, encoding="utf-8") as f:
        chart_js = f.read()
    with psycopg.connect(a.dsn) as conn:
        rep = read_report(conn, a.shop, a.from_day, a.to_day)
    out = a.output or "report-%d-%s-%s.html" % (a.shop, a.from_day, a.to_day)
    with open(out, "w", encoding="utf-8") as f:
        f.write(render(rep, chart_js))
    print(out)


if __name__ == "__main__":
    sys.exit(main())
