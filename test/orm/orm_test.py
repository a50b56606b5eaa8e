#!/usr/bin/python3
"""Full-row saves from real ORMs (issue 14): Django 3.2 and SQLAlchemy 1.4,
Debian 12's, against a running server (the PG* environment, as pg_virtualenv
sets it), connected as a superuser who acts as a member of order_mgmt_admin.

What a shop's admin tool does: load an order into an object, let the order
change behind the object's back (an API call, another session, the trigger
that moves a cancelled paid order's payment to refunding), then save the
object.  A fresh save must go through; a stale one must be refused with
nothing changed, whether or not the model maps orders.lock_version.

Prints TAP ("ok N - ...") and exits non-zero when a check fails.
"""
import os
import sys

import psycopg2

checks = 0
failures = 0


def check(ok, what):
    global checks, failures
    checks += 1
    if not ok:
        failures += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", checks, what), flush=True)


def sql(query, *args):
    with admin.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall() if cur.description else None


def order_state(order_id):
    return sql("SELECT status::text, payment_status::text, paid_amount, refunded_amount,"
               " cancelled_at IS NOT NULL, customer_note, admin_note, lock_version"
               " FROM order_mgmt.orders WHERE order_id = %s", order_id)[0]


def new_paid_order(shop, note):
    order_id = sql("SELECT order_mgmt.checkout(%s, '[{\"sku\": \"TEA\", \"qty\": 1}]', customer_id => 'kim')",
                   shop)[0][0]
    sql("SELECT order_mgmt.payment_succeeded(%s, %s, 100, %s)", shop, order_id, note)
    return order_id


def sqlstate(exc):
    """The SQLSTATE behind a Django or SQLAlchemy database error."""
    cause = getattr(exc, "orig", None) or exc.__cause__ or exc
    return getattr(cause, "pgcode", None)


# ------------------------------------------------------------------ set-up
admin = psycopg2.connect("")
admin.autocommit = True
sql("CREATE EXTENSION IF NOT EXISTS order_mgmt")
sql("DO $$ BEGIN CREATE ROLE orm_admin; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
sql("GRANT order_mgmt_admin TO orm_admin")
for shop in (901, 902):
    sql("SELECT order_mgmt.create_shop(%s, 'ORM shop')", shop)
    sql("SELECT order_mgmt.upsert_sku(%s, 'TEA', 100)", shop)
    sql("SELECT order_mgmt.set_stock(%s, 'TEA', 100)", shop)
    sql("SELECT order_mgmt.upsert_customer(%s, 'kim', 'kim@example.com')", shop)

# ------------------------------------------------------------------ Django
import django
from django.conf import settings

settings.configure(
    DATABASES={"default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("PGDATABASE", "postgres"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "PASSWORD": os.environ.get("PGPASSWORD", ""),
        "HOST": os.environ.get("PGHOST", ""),
        "PORT": os.environ.get("PGPORT", ""),
        "OPTIONS": {"options": "-c role=orm_admin -c search_path=order_mgmt"},
    }},
    INSTALLED_APPS=[], USE_TZ=True)
django.setup()
from django.db import DatabaseError, models, transaction  # noqa: E402


class OrderFields(models.Model):
    """orders as a shop's admin tool maps it."""
    order_id = models.BigIntegerField(primary_key=True)
    shop_id = models.BigIntegerField()
    status = models.TextField()
    payment_status = models.TextField()
    delivery_status = models.TextField()
    total = models.DecimalField(max_digits=20, decimal_places=4)
    paid_amount = models.DecimalField(max_digits=20, decimal_places=4)
    refunded_amount = models.DecimalField(max_digits=20, decimal_places=4)
    cancelled_at = models.DateTimeField(null=True)
    cancel_source = models.TextField(null=True)
    cancel_reason = models.TextField(null=True)
    admin_note = models.TextField(null=True)
    customer_note = models.TextField(null=True)

    class Meta:
        abstract = True


class Order(OrderFields):
    """Without lock_version."""
    class Meta:
        app_label = "shop"
        db_table = "orders"
        managed = False


class VersionedOrder(OrderFields):
    """With the version counter mapped."""
    lock_version = models.BigIntegerField()

    class Meta:
        app_label = "shop"
        db_table = "orders"
        managed = False


def django_save(obj):
    """save() in its own transaction; returns None or the SQLSTATE."""
    try:
        with transaction.atomic():
            obj.save()
        return None
    except DatabaseError as e:
        return sqlstate(e)


# the story: a paid order cancelled through save() ...
oid = new_paid_order(901, "dj-1")
o = Order.objects.get(order_id=oid)
o.status = "cancelled"
o.cancel_reason = "changed_mind"
check(django_save(o) is None, "Django: a fresh save() cancels a paid order")
state = order_state(oid)
check(state[:2] == ("cancelled", "refunding") and state[4],
      "Django: the trigger moved its payment to refunding and stamped the cancellation")
# ... then the same, now stale, object saved again to add a note
o.customer_note = "please call first"
code = django_save(o)
check(code in ("OM013", "OM005"), "Django: the stale save() is refused (%s)" % code)
check(order_state(oid) == state, "Django: the refused save changed nothing: the refund owed stays")
o.refresh_from_db()
o.customer_note = "please call first"
check(django_save(o) is None, "Django: after refresh_from_db() the save goes through")
state = order_state(oid)
check(state[:2] == ("cancelled", "refunding") and state[5] == "please call first",
      "Django: the note is saved and the order is still cancelled with money owed")

# with lock_version mapped, a stale object is refused even when it would
# undo nothing the guard could see: only the counter tells
oid = new_paid_order(901, "dj-2")
v = VersionedOrder.objects.get(order_id=oid)
other = VersionedOrder.objects.get(order_id=oid)
other.admin_note = "packed"
check(django_save(other) is None, "Django: one admin saves a note")
v.admin_note = "gift wrap"
code = django_save(v)
check(code == "OM013", "Django: another admin's stale object is refused by lock_version (%s)" % code)
check(order_state(oid)[6] == "packed", "Django: the first admin's note survives")

# ------------------------------------------------------------------ SQLAlchemy
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session, declarative_base  # noqa: E402
from sqlalchemy.orm.exc import StaleDataError  # noqa: E402

engine = sa.create_engine("postgresql+psycopg2://", future=True,
                          connect_args={"options": "-c role=orm_admin"})
Base = declarative_base()


class SaOrder(Base):
    __tablename__ = "orders"
    __table_args__ = {"schema": "order_mgmt"}
    shop_id = sa.Column(sa.BigInteger, primary_key=True)
    order_id = sa.Column(sa.BigInteger, primary_key=True)
    status = sa.Column(sa.Text)
    payment_status = sa.Column(sa.Text)
    cancelled_at = sa.Column(sa.DateTime(timezone=True))
    cancel_reason = sa.Column(sa.Text)
    admin_note = sa.Column(sa.Text)
    lock_version = sa.Column(sa.BigInteger, nullable=False)
    __mapper_args__ = {"version_id_col": lock_version}


Base2 = declarative_base()


class SaPlainOrder(Base2):
    """No version counter: what a model that does not map it sends."""
    __tablename__ = "orders"
    __table_args__ = {"schema": "order_mgmt"}
    shop_id = sa.Column(sa.BigInteger, primary_key=True)
    order_id = sa.Column(sa.BigInteger, primary_key=True)
    status = sa.Column(sa.Text)
    payment_status = sa.Column(sa.Text)
    cancelled_at = sa.Column(sa.DateTime(timezone=True))
    cancel_reason = sa.Column(sa.Text)
    admin_note = sa.Column(sa.Text)


# version_id_col: SQLAlchemy sends lock_version = read + 1 WHERE lock_version = read
oid = new_paid_order(902, "sa-1")
with Session(engine) as s:
    o = s.get(SaOrder, (902, oid))
    o.admin_note = "first"
    s.commit()
    check(order_state(oid)[6:] == ("first", o.lock_version),
          "SQLAlchemy: a versioned save goes through, the counter once up (%d)" % o.lock_version)

# a detached object merged after the order was cancelled elsewhere
with Session(engine) as s:
    detached = s.get(SaOrder, (902, oid))
    s.expunge(detached)
sql("SELECT order_mgmt.cancel(902, %s, 'changed_mind')", oid)
state = order_state(oid)
detached.admin_note = "stale"
with Session(engine) as s:
    try:
        s.merge(detached)
        s.commit()
        check(False, "SQLAlchemy: merge() of a stale versioned object is refused")
    except (StaleDataError, sa.exc.DBAPIError) as e:
        check(True, "SQLAlchemy: merge() of a stale versioned object is refused (%s)"
              % (type(e).__name__ if isinstance(e, StaleDataError) else sqlstate(e)))
check(order_state(oid) == state, "SQLAlchemy: nothing changed")

# the same without the version counter reaches the guard, which refuses it
oid = new_paid_order(902, "sa-2")
with Session(engine) as s:
    detached = s.get(SaPlainOrder, (902, oid))
    s.expunge(detached)
sql("SELECT order_mgmt.cancel(902, %s, 'changed_mind')", oid)
state = order_state(oid)
detached.admin_note = "stale"
with Session(engine) as s:
    try:
        s.merge(detached)
        s.commit()
        check(False, "SQLAlchemy: merge() of a stale unversioned object is refused by the guard")
    except sa.exc.DBAPIError as e:
        check(sqlstate(e) in ("OM013", "OM005"),
              "SQLAlchemy: merge() of a stale unversioned object is refused by the guard (%s)" % sqlstate(e))
check(order_state(oid) == state, "SQLAlchemy: the cancellation and the refund owed stay")

# issue 18: support edits the order (edit_order) while an admin tool holds it
# in an object; the stale object's save must not undo the refund the edit owes
oid = new_paid_order(902, "sa-3")
with Session(engine) as s:
    detached = s.get(SaOrder, (902, oid))
    s.expunge(detached)
version = sql("SELECT order_mgmt.edit_order(902, %s, '[{\"op\": \"set_price\", \"line\": 1, \"unit_price\": 80}]',"
              " 'price matched', %s)", oid, detached.lock_version)[0][0]
state = order_state(oid)
check(state[1] == "refunding" and state[7] == version,
      "edit_order through psycopg2: a paid order's lower price is a refund owed (%s)" % state[1])
detached.admin_note = "stale"
with Session(engine) as s:
    try:
        s.merge(detached)
        s.commit()
        check(False, "SQLAlchemy: a save of the object read before the edit is refused")
    except (StaleDataError, sa.exc.DBAPIError) as e:
        check(True, "SQLAlchemy: a save of the object read before the edit is refused (%s)"
              % (type(e).__name__ if isinstance(e, StaleDataError) else sqlstate(e)))
check(order_state(oid) == state, "SQLAlchemy: the refund the edit owes stays")
try:
    sql("SELECT order_mgmt.edit_order(902, %s, '[{\"op\": \"set_qty\", \"line\": 1, \"qty\": 2}]',"
        " 'second agent', %s)", oid, detached.lock_version)
    check(False, "edit_order with the version read before the first edit is refused")
except psycopg2.Error as e:
    check(e.pgcode == "OM013", "edit_order with the version read before the first edit is refused (%s)" % e.pgcode)

rows = sql("SELECT count(*) FROM order_mgmt.verify()")[0][0]
check(rows == 0, "verify() finds nothing")
print("orm: %d passed, %d failed" % (checks - failures, failures))
sys.exit(1 if failures else 0)
