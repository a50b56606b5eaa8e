-- Every write path keeps money and state coherent (SPEC §1.2, issue 14):
-- the payment status agrees with the money on a plain UPDATE; the columns
-- a move stamps change only with that move; a stale row written back (an
-- ORM's full-row save) is refused with a hint to reload, a fresh one is
-- accepted; who may claim a cancellation's source; the bounds on amounts.
\set SHOW_CONTEXT never
SELECT order_mgmt.create_shop(190, 'Coherence shop', 'TWD');
SELECT setval('order_mgmt.order_id_seq', 1900000);
SET order_mgmt.clock = '2026-07-01 10:00+00';
SELECT order_mgmt.upsert_sku(190, 'TEA', 100);
SELECT order_mgmt.set_stock(190, 'TEA', 50);
SELECT order_mgmt.upsert_customer(190, 'kim', 'kim@example.com');

-- What an ORM does on save(): write every column of the row it read, with
-- its own changes.  snap is the row as read (to_jsonb of it), changes the
-- fields the application set.  A column left out of snap is not written
-- (a model that does not map it).
CREATE FUNCTION orm_save(snap jsonb, changes jsonb DEFAULT '{}') RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	cols text;
BEGIN
	SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
	FROM pg_attribute a
	WHERE a.attrelid = 'order_mgmt.orders'::regclass AND a.attnum > 0 AND NOT a.attisdropped
	  AND snap ? a.attname::text;
	EXECUTE format('UPDATE order_mgmt.orders SET (%s) = (SELECT %s FROM jsonb_populate_record(NULL::order_mgmt.orders, $1))'
				   ' WHERE shop_id = ($1->>''shop_id'')::bigint AND order_id = ($1->>''order_id'')::bigint',
				   cols, cols)
	USING snap || changes;
END
$$;
CREATE FUNCTION order_row(o bigint) RETURNS jsonb LANGUAGE sql
AS $$ SELECT to_jsonb(x) FROM order_mgmt.orders x WHERE shop_id = 190 AND order_id = o $$;
CREATE FUNCTION coh_money(o bigint) RETURNS TABLE (status text, payment text, paid numeric,
	refunded numeric, total numeric, version bigint)
LANGUAGE sql AS $$
	SELECT status, payment_status, paid_amount, refunded_amount, total, lock_version
	FROM order_mgmt.orders WHERE shop_id = 190 AND order_id = o
$$;

-- 1. The payment status agrees with the money on a plain UPDATE
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', customer_id => 'kim') AS paid1 \gset
SELECT order_mgmt.payment_succeeded(190, :paid1, 100, 'psp-c1');
-- refunded needs the money back; partially_refunded a part of it
UPDATE order_mgmt.orders SET payment_status = 'refunded' WHERE order_id = :paid1;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET payment_status = 'partially_refunded' WHERE order_id = :paid1;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM coh_money(:paid1);
-- refunding is what it is: money paid and not yet returned
UPDATE order_mgmt.orders SET payment_status = 'refunding' WHERE order_id = :paid1;
SELECT * FROM coh_money(:paid1);
-- a refund through the API makes partially_refunded true; refunded still needs the rest
SELECT order_mgmt.refund(190, :paid1, 40, 'psp-r1');
UPDATE order_mgmt.orders SET payment_status = 'refunded' WHERE order_id = :paid1;
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.refund(190, :paid1, 60, 'psp-r2');
SELECT * FROM coh_money(:paid1);
-- money arriving again after a full refund is owed back: refunding, not refunded
SELECT order_mgmt.payment_succeeded(190, :paid1, 100, 'psp-c1-again');
SELECT * FROM coh_money(:paid1);
SELECT kind, detail->>'amount' AS amount FROM order_mgmt.order_event
WHERE order_id = :paid1 AND kind = 'refund_owed';

-- a cancelled paid order rests in refunding: it cannot be put back to paid
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', customer_id => 'kim') AS paid2 \gset
SELECT order_mgmt.payment_succeeded(190, :paid2, 100, 'psp-c2');
SELECT order_mgmt.cancel(190, :paid2, 'changed_mind');
UPDATE order_mgmt.orders SET payment_status = 'paid' WHERE order_id = :paid2;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM coh_money(:paid2);

-- 2. The columns a move stamps change only with that move
UPDATE order_mgmt.orders SET cancelled_at = NULL WHERE order_id = :paid2;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET cancel_source = NULL, cancel_reason = NULL WHERE order_id = :paid2;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET cancel_note = 'rewritten history' WHERE order_id = :paid2;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET paid_at = paid_at - interval '1 day' WHERE order_id = :paid1;
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', customer_id => 'kim') AS shipped \gset
SELECT order_mgmt.payment_succeeded(190, :shipped, 100, 'psp-c3');
SELECT order_mgmt.ship(190, :shipped, 'post', 'T-1') > 0 AS shipped_it;
UPDATE order_mgmt.orders SET shipped_at = NULL WHERE order_id = :shipped;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET completed_at = order_mgmt.now() WHERE order_id = :shipped;
\echo :LAST_ERROR_SQLSTATE
-- ... but the move itself may give them (a cancellation with its reason and note)
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', customer_id => 'kim') AS o \gset
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'duplicate_order', cancel_note = 'ordered twice'
WHERE order_id = :o;
SELECT status, cancel_source, cancel_reason, cancel_note, cancelled_at IS NOT NULL AS stamped
FROM order_mgmt.orders WHERE order_id = :o;
-- and the key that matches guest e-mails follows the e-mail, whatever is written to it
UPDATE order_mgmt.orders SET email_key = 'someone-else@example.com' WHERE order_id = :o;
SELECT email, email_key FROM order_mgmt.orders WHERE order_id = :o;

-- 3. An ORM's full-row save: a fresh one is accepted, a stale one refused
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', customer_id => 'kim') AS orm \gset
SELECT order_mgmt.payment_succeeded(190, :orm, 100, 'psp-c4');
SELECT order_row(:orm) AS snap \gset
-- a fresh save rewrites every column with the values it read, plus a note: accepted
SELECT orm_save(:'snap', '{"admin_note": "gift wrap"}');
SELECT admin_note, (SELECT version FROM coh_money(:orm)) AS lock_version FROM order_mgmt.orders WHERE order_id = :orm;
-- the application saves again from the same object, which its first save
-- made stale (lock_version moved on): refused
SELECT orm_save(:'snap', '{"admin_note": "gift wrap, blue paper"}');
\echo :LAST_ERROR_SQLSTATE
-- the issue's story: the order is cancelled (through save() or the API);
-- the trigger moves payment to refunding, money owed back
SELECT order_row(:orm) AS snap \gset
SELECT order_mgmt.cancel(190, :orm, 'changed_mind');
SELECT * FROM coh_money(:orm);
-- the same, now stale, object saved again to add a note: refused, and nothing changes
SELECT orm_save(:'snap', '{"customer_note": "please call first"}');
\echo :LAST_ERROR_SQLSTATE
-- a model that does not map lock_version is caught by what it would undo:
-- it writes back the cancellation's columns as they were before it
SELECT orm_save(:'snap'::jsonb - 'lock_version', '{"customer_note": "please call first"}');
\echo :LAST_ERROR_SQLSTATE
-- the same on an unpaid order: without the check the stale save would
-- have reactivated it, holding its stock again
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', customer_id => 'kim') AS unpaid \gset
SELECT order_row(:unpaid) AS unpaid_snap \gset
SELECT order_mgmt.cancel(190, :unpaid, 'changed_mind');
SELECT orm_save(:'unpaid_snap'::jsonb - 'lock_version', '{"admin_note": "stale"}');
\echo :LAST_ERROR_SQLSTATE
SELECT status, admin_note FROM order_mgmt.orders WHERE order_id = :unpaid;
SELECT * FROM coh_money(:orm);
SELECT status, payment_status, cancel_source, cancel_reason, cancelled_at IS NOT NULL AS cancelled, customer_note
FROM order_mgmt.orders WHERE order_id = :orm;
-- reloaded, the save goes through and keeps the cancellation and the money owed
SELECT order_row(:orm) AS snap \gset
SELECT orm_save(:'snap', '{"customer_note": "please call first"}');
SELECT status, payment_status, cancel_source, cancel_reason, cancelled_at IS NOT NULL AS cancelled, customer_note
FROM order_mgmt.orders WHERE order_id = :orm;
SELECT * FROM coh_money(:orm);
-- Rails' lock_version and SQLAlchemy's version_id_col send the value read
-- plus one, and check the value read in their WHERE: accepted once
SELECT (order_row(:orm)->>'lock_version')::bigint AS v \gset
UPDATE order_mgmt.orders SET admin_note = 'called', lock_version = :v + 1
WHERE shop_id = 190 AND order_id = :orm AND lock_version = :v;
SELECT admin_note, lock_version - :v AS moved_by FROM order_mgmt.orders WHERE order_id = :orm;
UPDATE order_mgmt.orders SET lock_version = :v - 5 WHERE shop_id = 190 AND order_id = :orm;
\echo :LAST_ERROR_SQLSTATE

-- 4. Who may claim a cancellation's source
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', customer_id => 'kim') AS c1 \gset
-- customer: only customer_cancel(), which checks the self-cancel rules, even for a superuser
SELECT order_mgmt.cancel(190, :c1, 'changed_mind', source => 'customer');
\echo :LAST_ERROR_SQLSTATE
CREATE ROLE om_coherence_app;
GRANT order_mgmt_app TO om_coherence_app;
CREATE ROLE om_coherence_admin;
GRANT order_mgmt_admin TO om_coherence_admin;
SET ROLE om_coherence_app;
-- system: only the sweeper or a superuser
SELECT order_mgmt.cancel(190, :c1, 'payment_timeout', source => 'system');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.cancel(190, :c1, 'changed_mind', source => 'customer');
\echo :LAST_ERROR_SQLSTATE
-- the customer's own way, with its rules
SELECT order_mgmt.customer_cancel(190, :c1, 'kim', 'changed_mind');
RESET ROLE;
SELECT status, cancel_source, cancel_reason FROM order_mgmt.orders WHERE order_id = :c1;
-- an admin's plain UPDATE claims neither
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', customer_id => 'kim') AS c2 \gset
SET ROLE om_coherence_admin;
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_source = 'customer' WHERE shop_id = 190 AND order_id = :c2;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_source = 'system' WHERE shop_id = 190 AND order_id = :c2;
\echo :LAST_ERROR_SQLSTATE
UPDATE order_mgmt.orders SET status = 'cancelled', cancel_reason = 'out_of_stock' WHERE shop_id = 190 AND order_id = :c2;
-- admins may save whole rows (every column is theirs to write; the guard judges each)
SELECT order_row(:c2) AS snap \gset
SELECT orm_save(:'snap', '{"shipping_note": "back door"}');
SELECT orm_save(:'snap'::jsonb - 'lock_version', '{"total": 1}');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT status, cancel_source, cancel_reason, shipping_note FROM order_mgmt.orders WHERE order_id = :c2;
-- a superuser may (and the system cancels as system)
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', customer_id => 'kim') AS c3 \gset
SELECT order_mgmt.cancel(190, :c3, 'payment_timeout', source => 'system');
SELECT status, cancel_source FROM order_mgmt.orders WHERE order_id = :c3;

-- 5. Amounts have a maximum (below 10^15 in the currency's units): 22003
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', shipping_fee => 1e130000);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', shipping_fee => 1e15);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(190, '[{"sku": "TEA", "qty": 1}]', shipping_fee => 999999999999899) > 0 AS largest_total_taken;
SELECT order_mgmt.upsert_sku(190, 'GOLD', 1e15);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(190, 'GOLD', 2e14);
SELECT order_mgmt.set_stock(190, 'GOLD', 10);
-- the lines add up past the maximum
SELECT order_mgmt.checkout(190, '[{"sku": "GOLD", "qty": 5}]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.payment_succeeded(190, :c3, 1e15, 'psp-huge');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(190, '{"reward_rate": 1001}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_promo(190, 'HUGE', 'amount', 1e15);
\echo :LAST_ERROR_SQLSTATE
-- nothing was held by the refused calls
SELECT sku, on_hand, reserved FROM order_mgmt.stock_level WHERE shop_id = 190 ORDER BY sku;

SELECT * FROM order_mgmt.verify(190);
RESET order_mgmt.clock;
DROP ROLE om_coherence_app;
DROP ROLE om_coherence_admin;
