-- How a shop tests its own rules with pgTAP and order_mgmt's test clock.
--
-- Every test runs in one transaction that is rolled back at the end, so it
-- leaves nothing behind, and travels in time with SET LOCAL
-- order_mgmt.clock (docs/reference.md, "Time"): each rule reads
-- order_mgmt.now(), which is that instant while it is set.  Setting the
-- clock needs a superuser, or GRANT SET ON PARAMETER order_mgmt.clock.
--
-- Run it with:  pg_prove -d yourdb examples/pgtap/test_shop_rules.sql
-- (CREATE EXTENSION pgtap and order_mgmt first; run.sh does it all in a
-- throwaway cluster).
BEGIN;
SELECT plan(19);

-- our shop: payment within 30 minutes, customers may cancel (\o: quietly)
\o /dev/null
SET LOCAL order_mgmt.clock = '2026-12-01 10:00+00';
SELECT order_mgmt.create_shop(1800, 'Tea shop');
SELECT order_mgmt.update_shop(1800, '{"payment_timeout": "30 minutes", "allow_customer_cancel": true}');
SELECT order_mgmt.upsert_sku(1800, 'OOLONG', 450);
SELECT order_mgmt.set_stock(1800, 'OOLONG', 5);
SELECT order_mgmt.upsert_customer(1800, 'mei', 'mei@example.com');
SELECT order_mgmt.upsert_customer(1800, 'ken', 'ken@example.com');
SELECT order_mgmt.create_promo(1800, 'WELCOME', 'amount', 50, usage_limit => 1);
\o

-- 1. an unpaid order is failed after 30 minutes, and holds its stock until then
CREATE TEMP TABLE o ON COMMIT DROP AS
SELECT order_mgmt.checkout(1800, '[{"sku": "OOLONG", "qty": 2}]', customer_id => 'mei') AS id;
SELECT is((SELECT available FROM order_mgmt.stock_level WHERE shop_id = 1800 AND sku = 'OOLONG'), 3::bigint,
	'checkout holds the stock');
SELECT is((SELECT payment_due_at FROM order_mgmt.orders WHERE shop_id = 1800 AND order_id = (SELECT id FROM o)),
	'2026-12-01 10:30+00'::timestamptz, 'payment is due 30 minutes after checkout');

SET LOCAL order_mgmt.clock = '2026-12-01 10:29+00';
SELECT is(order_mgmt.run_due_shop(1800), 0, 'at 10:29 nothing is due');
SELECT is((SELECT payment_status::text FROM order_mgmt.orders WHERE shop_id = 1800 AND order_id = (SELECT id FROM o)),
	'unpaid', 'after 29 minutes it is still unpaid');

SET LOCAL order_mgmt.clock = '2026-12-01 10:31+00';
SELECT is(order_mgmt.run_due_shop(1800), 1, 'at 10:31 the payment deadline runs');
SELECT is((SELECT payment_status::text FROM order_mgmt.orders WHERE shop_id = 1800 AND order_id = (SELECT id FROM o)),
	'failed', 'after 31 minutes it has failed');
SELECT throws_ok(format('SELECT order_mgmt.customer_cancel(1800, %s, %L)', (SELECT id FROM o), 'ken'),
	'OM006', NULL, 'another customer cannot cancel it');

-- 2. the welcome code is good for one order only
SET LOCAL order_mgmt.clock = '2026-12-01 11:00+00';
SELECT lives_ok($$SELECT order_mgmt.checkout(1800, '[{"sku": "OOLONG", "qty": 1}]',
	customer_id => 'ken', promo_code => 'welcome')$$, 'the first order uses the code (any case)');
SELECT is((SELECT total FROM order_mgmt.orders WHERE shop_id = 1800 AND customer_id = 'ken'),
	400::numeric, 'with 50 off');
SELECT throws_ok($$SELECT order_mgmt.checkout(1800, '[{"sku": "OOLONG", "qty": 1}]',
	customer_id => 'mei', promo_code => 'WELCOME')$$, 'OM003', NULL, 'a second order is refused: the code is used up');
SELECT is((SELECT count(*) FROM order_mgmt.orders WHERE shop_id = 1800 AND customer_id = 'mei'), 1::bigint,
	'and no order was made');

-- 3. a customer can cancel before shipment, not after
SET LOCAL order_mgmt.clock = '2026-12-01 12:00+00';
TRUNCATE o;
INSERT INTO o SELECT order_mgmt.checkout(1800, '[{"sku": "OOLONG", "qty": 1}]', customer_id => 'mei');
SELECT is(order_mgmt.mark_paid(1800, (SELECT id FROM o))::text, 'paid', 'paid by bank transfer');
SELECT is((SELECT allowed FROM order_mgmt.can_customer_cancel(1800, (SELECT id FROM o), 'mei')), true,
	'paid, not shipped: the customer may cancel');
SELECT ok(order_mgmt.ship(1800, (SELECT id FROM o), 'black-cat', 'BC-1') > 0, 'shipped');
SELECT is((SELECT allowed FROM order_mgmt.can_customer_cancel(1800, (SELECT id FROM o), 'mei')), false,
	'shipped: she may not');
SELECT isnt((SELECT reason FROM order_mgmt.can_customer_cancel(1800, (SELECT id FROM o), 'mei')), NULL,
	'and the page can tell her why');
SELECT throws_ok(format('SELECT order_mgmt.customer_cancel(1800, %s, %L)', (SELECT id FROM o), 'mei'),
	'OM006', NULL, 'cancelling anyway is refused');
SELECT isnt((SELECT status::text FROM order_mgmt.orders WHERE shop_id = 1800 AND order_id = (SELECT id FROM o)),
	'cancelled', 'and the order is not cancelled');

-- and the books balance
SELECT is_empty('SELECT * FROM order_mgmt.verify(1800)', 'verify() finds nothing');

SELECT * FROM finish();
ROLLBACK;
