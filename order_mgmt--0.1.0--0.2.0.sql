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
-- Each change below has its own section, headed by what it is for.
-- order_mgmt--0.1.0.sql is released and frozen; never edit it.

-- ---------------------------------------------------------------------------
-- Issue 14, run_due never starves: a due action that fails backs off.
-- run_due() counts the failure on its due_action row and moves due_at
-- later (1 minute, doubling, at most 1 hour), so a failing row no longer
-- comes back at the head of the queue on every pass.  A DBA finds failing
-- deadlines with WHERE attempts > 0.
-- ---------------------------------------------------------------------------
ALTER TABLE order_mgmt.due_action
	ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	ADD COLUMN last_error text,
	ADD COLUMN failed_at timestamptz;
COMMENT ON TABLE order_mgmt.due_action IS 'Deadlines: what the sweeper (run_due) must do to an order, and when (SPEC §13); rows with attempts > 0 are failing and back off';
COMMENT ON COLUMN order_mgmt.due_action.attempts IS 'How many times run_due() failed to perform it (errors other than a busy row); each failure moves due_at later: 1 minute, doubling, at most 1 hour';
COMMENT ON COLUMN order_mgmt.due_action.last_error IS 'The error message of its last failure (NULL if it never failed)';
COMMENT ON COLUMN order_mgmt.due_action.failed_at IS 'When it last failed (order_mgmt.now()); NULL if it never failed';

-- ---------------------------------------------------------------------------
-- Issue 14, every write path keeps money and state coherent: the
-- optimistic-concurrency counter, and admins may save whole rows (an ORM
-- writes every column; the guard judges each one).
-- ---------------------------------------------------------------------------
ALTER TABLE order_mgmt.orders ADD COLUMN lock_version bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN order_mgmt.orders.lock_version IS 'Optimistic-concurrency counter: every UPDATE adds one; a write carrying another value than the one read (or that plus one) is refused as stale (OM013)';
REVOKE UPDATE (status, payment_status, delivery_status, admin_note, shipping_note,
	customer_note, consulted_support) ON order_mgmt.orders FROM order_mgmt_admin;
GRANT UPDATE ON order_mgmt.orders TO order_mgmt_admin;
