
-- Guard triggers (src/order_guard.c).  They are SECURITY DEFINER so that the
-- events they append are written whoever makes the change; the actor is
-- still the caller's role.

CREATE FUNCTION order_mgmt.orders_guard() RETURNS trigger
	AS 'MODULE_PATHNAME', 'om_orders_guard'
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.orders_guard() IS
	'BEFORE INSERT OR UPDATE on orders: refuses moves outside the status machines and cross-status rules, stamps the row';

CREATE FUNCTION order_mgmt.orders_after() RETURNS trigger
	AS 'MODULE_PATHNAME', 'om_orders_after'
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.orders_after() IS
	'AFTER UPDATE on orders: appends the transition events and does the side effects (stock, promo, deadlines)';

CREATE FUNCTION order_mgmt.forbid_change() RETURNS trigger
	AS 'MODULE_PATHNAME', 'om_forbid_change'
	LANGUAGE C;
COMMENT ON FUNCTION order_mgmt.forbid_change() IS
	'Refuses DELETE and TRUNCATE of orders and their history, and UPDATE of the event log (OM009)';

-- Its SPI query runs with the pinned search_path, not the importer's
-- (issue 19): a superuser's "SET search_path = public, pg_catalog" must not
-- let an operator planted in public decide which order a line belongs to.
-- checkout() and add_lines() fill ordered_at themselves, so the trigger
-- (and the cost of the SET) is only paid by hand-written lines.
CREATE FUNCTION order_mgmt.order_line_stamp() RETURNS trigger
	AS 'MODULE_PATHNAME', 'om_order_line_stamp'
	LANGUAGE C
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.order_line_stamp() IS
	'Fills order_line.ordered_at from the order''s created_at when an INSERT leaves it out';

CREATE TRIGGER order_line_stamp BEFORE INSERT ON order_mgmt.order_line
	FOR EACH ROW WHEN (NEW.ordered_at IS NULL) EXECUTE FUNCTION order_mgmt.order_line_stamp();
-- ALWAYS: also with session_replication_role = replica (imports with the
-- other triggers off); it only fills a value left out
ALTER TABLE order_mgmt.order_line ENABLE ALWAYS TRIGGER order_line_stamp;
COMMENT ON TRIGGER order_line_stamp ON order_mgmt.order_line IS 'Lines written by hand get their order''s creation time';

CREATE TRIGGER orders_guard BEFORE INSERT OR UPDATE ON order_mgmt.orders
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.orders_guard();
COMMENT ON TRIGGER orders_guard ON order_mgmt.orders IS 'Status machines on every path (SPEC §3)';

-- The transition tables let the first row event of a multi-row UPDATE lock
-- every promo code and stock row the statement's effects take, sorted as
-- checkout takes them, before any effect runs (src/order_effects.c).  Its
-- WHEN condition is repeated there (MOVED_SQL): change both together.
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

CREATE TRIGGER orders_no_delete BEFORE DELETE ON order_mgmt.orders
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER orders_no_truncate BEFORE TRUNCATE ON order_mgmt.orders
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER order_line_no_delete BEFORE DELETE ON order_mgmt.order_line
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER order_line_no_truncate BEFORE TRUNCATE ON order_mgmt.order_line
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER payment_no_delete BEFORE DELETE ON order_mgmt.payment
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER payment_no_truncate BEFORE TRUNCATE ON order_mgmt.payment
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER order_event_append_only BEFORE UPDATE OR DELETE ON order_mgmt.order_event
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER order_event_no_truncate BEFORE TRUNCATE ON order_mgmt.order_event
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
COMMENT ON TRIGGER orders_no_delete ON order_mgmt.orders IS 'Orders are never deleted (OM009)';
COMMENT ON TRIGGER orders_no_truncate ON order_mgmt.orders IS 'Orders are never deleted (OM009)';
COMMENT ON TRIGGER order_line_no_delete ON order_mgmt.order_line IS 'Order lines are never deleted (OM009)';
COMMENT ON TRIGGER order_line_no_truncate ON order_mgmt.order_line IS 'Order lines are never deleted (OM009)';
COMMENT ON TRIGGER payment_no_delete ON order_mgmt.payment IS 'Payments are never deleted (OM009)';
COMMENT ON TRIGGER payment_no_truncate ON order_mgmt.payment IS 'Payments are never deleted (OM009)';
COMMENT ON TRIGGER order_event_append_only ON order_mgmt.order_event IS 'The event log is append-only (OM009)';
COMMENT ON TRIGGER order_event_no_truncate ON order_mgmt.order_event IS 'The event log is append-only (OM009)';

CREATE TRIGGER shipment_no_delete BEFORE DELETE ON order_mgmt.shipment
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER shipment_no_truncate BEFORE TRUNCATE ON order_mgmt.shipment
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER reward_ledger_append_only BEFORE UPDATE OR DELETE ON order_mgmt.reward_ledger
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER reward_ledger_no_truncate BEFORE TRUNCATE ON order_mgmt.reward_ledger
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
COMMENT ON TRIGGER shipment_no_delete ON order_mgmt.shipment IS 'Shipments are never deleted (OM009)';
COMMENT ON TRIGGER shipment_no_truncate ON order_mgmt.shipment IS 'Shipments are never deleted (OM009)';
COMMENT ON TRIGGER reward_ledger_append_only ON order_mgmt.reward_ledger IS 'The reward ledger is append-only (OM009)';
COMMENT ON TRIGGER reward_ledger_no_truncate ON order_mgmt.reward_ledger IS 'The reward ledger is append-only (OM009)';
CREATE TRIGGER store_credit_ledger_append_only BEFORE UPDATE OR DELETE ON order_mgmt.store_credit_ledger
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER store_credit_ledger_no_truncate BEFORE TRUNCATE ON order_mgmt.store_credit_ledger
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
COMMENT ON TRIGGER store_credit_ledger_append_only ON order_mgmt.store_credit_ledger IS 'The store credit ledger is append-only (OM009)';
COMMENT ON TRIGGER store_credit_ledger_no_truncate ON order_mgmt.store_credit_ledger IS 'The store credit ledger is append-only (OM009)';
CREATE TRIGGER order_address_no_delete BEFORE DELETE ON order_mgmt.order_address
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER order_address_no_truncate BEFORE TRUNCATE ON order_mgmt.order_address
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
COMMENT ON TRIGGER order_address_no_delete ON order_mgmt.order_address IS 'Address versions are never deleted, only blanked by an erasure (OM009)';
COMMENT ON TRIGGER order_address_no_truncate ON order_mgmt.order_address IS 'Address versions are never deleted, only blanked by an erasure (OM009)';

-- Issue 21: the foreign keys to orders, from order_line to sku, from orders
-- to shop and from the promo ledgers to promo_code are gone from the write
-- path (each cost every checkout an SPI query and a row lock on the
-- parent); what they also gave, that the parent cannot go while rows refer
-- to it, is kept here, at no cost to the writes (src/keep_referenced.c).
-- Orders themselves are never deleted (forbid_change above).
CREATE FUNCTION order_mgmt.keep_referenced() RETURNS trigger
	AS 'MODULE_PATHNAME', 'om_keep_referenced'
	LANGUAGE C
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.keep_referenced() IS
	'Refuses (23503) to delete, re-key or truncate a SKU, shop, promo code or customer that order lines, orders or promo ledgers refer to (the parent side of the foreign keys issue 21 dropped); its argument names the parent table';

CREATE TRIGGER sku_referenced BEFORE DELETE OR UPDATE OF shop_id, sku ON order_mgmt.sku
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.keep_referenced('sku');
CREATE TRIGGER sku_referenced_truncate BEFORE TRUNCATE ON order_mgmt.sku
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.keep_referenced('sku');
CREATE TRIGGER shop_referenced BEFORE DELETE OR UPDATE OF shop_id ON order_mgmt.shop
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.keep_referenced('shop');
CREATE TRIGGER shop_referenced_truncate BEFORE TRUNCATE ON order_mgmt.shop
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.keep_referenced('shop');
CREATE TRIGGER promo_code_referenced BEFORE DELETE OR UPDATE OF shop_id, code_key ON order_mgmt.promo_code
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.keep_referenced('promo_code');
CREATE TRIGGER promo_code_referenced_truncate BEFORE TRUNCATE ON order_mgmt.promo_code
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.keep_referenced('promo_code');
COMMENT ON TRIGGER sku_referenced ON order_mgmt.sku IS 'A SKU that order lines refer to is never deleted nor re-keyed (23503)';
COMMENT ON TRIGGER sku_referenced_truncate ON order_mgmt.sku IS 'No TRUNCATE while order lines exist (23503)';
COMMENT ON TRIGGER shop_referenced ON order_mgmt.shop IS 'A shop with orders is never deleted nor re-keyed (23503)';
COMMENT ON TRIGGER shop_referenced_truncate ON order_mgmt.shop IS 'No TRUNCATE while orders exist (23503)';
COMMENT ON TRIGGER promo_code_referenced ON order_mgmt.promo_code IS 'A promo code that redemptions or per-customer counters refer to is never deleted nor re-keyed (23503)';
COMMENT ON TRIGGER promo_code_referenced_truncate ON order_mgmt.promo_code IS 'No TRUNCATE while redemptions or per-customer counters exist (23503)';
CREATE TRIGGER customer_referenced BEFORE DELETE OR UPDATE OF shop_id, customer_id ON order_mgmt.customer
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.keep_referenced('customer');
CREATE TRIGGER customer_referenced_truncate BEFORE TRUNCATE ON order_mgmt.customer
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.keep_referenced('customer');
COMMENT ON TRIGGER customer_referenced ON order_mgmt.customer IS 'A customer that orders refer to is never deleted nor re-keyed (23503)';
COMMENT ON TRIGGER customer_referenced_truncate ON order_mgmt.customer IS 'No TRUNCATE while orders of a customer exist (23503)';
