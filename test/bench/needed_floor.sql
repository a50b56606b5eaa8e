-- The needed floor's tables (issue 21), for test/bench/wal.sh (one-line
-- checkouts) and checkout_setup.sql (checkout.sh's variant needed): the
-- minimal floor's order, line and event with the columns and indexes that
-- the SQL contract and the reports need beside primary keys -- a unique
-- order number, the payment deadline, the reports' covering indexes on
-- orders and lines, the event log's order and outbox indexes.  What
-- order_mgmt writes above it is its own.  The includer adds needed.stock
-- and needed.reservation, like its own floor's.
CREATE SCHEMA needed;
CREATE TABLE needed.orders (shop_id bigint, order_id bigint, order_no text, status text,
	payment_status text, delivery_status text, total numeric, paid_amount numeric,
	refunded_amount numeric, paid_at timestamptz, consulted_support bool, payment_due_at timestamptz,
	created_at timestamptz, PRIMARY KEY (shop_id, order_id), UNIQUE (shop_id, order_no));
CREATE INDEX ON needed.orders (shop_id, created_at) INCLUDE (total, status, payment_status,
	delivery_status, paid_amount, refunded_amount, paid_at, consulted_support, order_id);
CREATE INDEX ON needed.orders (payment_due_at) WHERE payment_due_at IS NOT NULL;
CREATE TABLE needed.line (shop_id bigint, order_id bigint, line_no int, sku text, qty int,
	unit_price numeric, returned_qty int, ordered_at timestamptz, PRIMARY KEY (shop_id, order_id, line_no));
CREATE INDEX ON needed.line (shop_id, sku, ordered_at) INCLUDE (order_id, qty, returned_qty);
CREATE TABLE needed.event (shop_id bigint, event_id bigint, order_id bigint, kind text,
	at timestamptz, detail jsonb, xid xid8 DEFAULT pg_current_xact_id(), PRIMARY KEY (shop_id, event_id));
CREATE INDEX ON needed.event (shop_id, order_id, event_id);
CREATE INDEX ON needed.event (shop_id, xid, event_id);
