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
-- No schema change has been made since 0.1.0 yet, so this script has no
-- statements: that is correct as it stands, not a placeholder to fill in.
-- order_mgmt--0.1.0.sql is released and frozen; never edit it.

-- Issue 14: a multi-row UPDATE of orders takes its promo and stock locks in
-- checkout's order.  orders_after gets transition tables, from which its
-- first row event locks the rows all of the statement's effects take,
-- sorted (src/order_effects.c).  Same function, same WHEN condition.
DROP TRIGGER orders_after ON order_mgmt.orders;
CREATE TRIGGER orders_after AFTER UPDATE ON order_mgmt.orders
	REFERENCING OLD TABLE AS old_orders NEW TABLE AS new_orders
	FOR EACH ROW
	WHEN (OLD.status IS DISTINCT FROM NEW.status
		  OR OLD.payment_status IS DISTINCT FROM NEW.payment_status
		  OR OLD.delivery_status IS DISTINCT FROM NEW.delivery_status
		  OR (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL)
		  OR OLD.refunded_amount IS DISTINCT FROM NEW.refunded_amount)
	EXECUTE FUNCTION order_mgmt.orders_after();
COMMENT ON TRIGGER orders_after ON order_mgmt.orders IS 'Transition events (SPEC §12) and side effects: stock, promo, deadlines (principle 1); a multi-row UPDATE first locks its promo and stock rows in checkout''s order';
