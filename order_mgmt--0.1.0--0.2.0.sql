-- order_mgmt upgrade script, 0.1.0 to 0.2.0 (ALTER EXTENSION order_mgmt UPDATE).
\echo Use "ALTER EXTENSION order_mgmt UPDATE TO '0.2.0'" to load this file. \quit

-- Shops upgrade in place: nobody re-creates an extension that holds their
-- orders.  So every schema change from 0.1.0 to 0.2.0 -- a table, column,
-- index, constraint, function, trigger, view, type or enum label, COMMENT,
-- GRANT, pg_extension_config_dump -- goes twice: into src/sql/ (the fresh
-- install of 0.2.0, assembled by the Makefile) and into this file, written
-- so that it carries a 0.1.0 install with its data to the same result.
-- test/t/004_upgrade.pl installs 0.1.0 with data, runs ALTER EXTENSION
-- order_mgmt UPDATE, and compares the schema with a fresh install of 0.2.0;
-- it fails, with the difference, when the two disagree.  A new column goes
-- at the end of its table in src/sql/ too, since ALTER TABLE ADD COLUMN
-- puts it there.
--
-- order_mgmt--0.1.0.sql is released and frozen; never edit it.  Each
-- change below has a heading naming what it is for.

-- Issue 14, every write path keeps money and state coherent: the
-- optimistic-concurrency counter, and admins may save whole rows (an ORM
-- writes every column; the guard judges each one).
ALTER TABLE order_mgmt.orders ADD COLUMN lock_version bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN order_mgmt.orders.lock_version IS 'Optimistic-concurrency counter: every UPDATE adds one; a write carrying another value than the one read (or that plus one) is refused as stale (OM013)';
REVOKE UPDATE (status, payment_status, delivery_status, admin_note, shipping_note,
	customer_note, consulted_support) ON order_mgmt.orders FROM order_mgmt_admin;
GRANT UPDATE ON order_mgmt.orders TO order_mgmt_admin;
