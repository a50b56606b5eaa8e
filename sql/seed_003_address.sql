-- Issue 18, seed 003 (Metrilo, saving cancelled orders): "forced account"
-- loses orders, so a guest checks out with only an e-mail and an address.
-- Shipping and billing addresses on the order, set at checkout, editable
-- until it ships, each change an event that names fields, not values; and
-- erase_customer / erase_guest (GDPR) blank names, e-mails and addresses
-- and keep the money and the history.  Shops 1750-1759.
SET order_mgmt.clock = '2026-12-07 10:00+00';
SELECT order_mgmt.create_shop(1750, 'Address shop');
SELECT setval('order_mgmt.order_id_seq', 1750000);
SELECT order_mgmt.upsert_sku(1750, 'A', 100, title => 'Lamp');
SELECT order_mgmt.set_stock(1750, 'A', 100);
SELECT order_mgmt.upsert_customer(1750, 'mary', 'Mary@Example.com', name => 'Mary Lin', phone => '+886 912 345 678');
SELECT order_mgmt.create_promo(1750, 'ONCE', 'percent', 10, per_customer_limit => 1);
SELECT order_mgmt.run_due(100000) >= 0 AS flushed;

-- ---------------------------------------------------------------------------
-- Guest checkout: an e-mail and a shipping address, no customer
-- ---------------------------------------------------------------------------
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'guest@example.com',
       promo_code => 'ONCE',
       shipping_address => '{"name": "Somchai P.", "line1": "99 Sukhumvit Rd", "city": "Bangkok", "postal_code": "10110", "country": "TH", "phone": "+66 2 123 4567"}') AS g1 \gset
SELECT customer_id, email, email_key, total FROM order_mgmt.orders WHERE shop_id = 1750 AND order_id = :g1;
SELECT kind, version, address ->> 'city' AS city, address ->> 'country' AS country, actor IS NOT NULL AS has_actor, erased_at
  FROM order_mgmt.order_address WHERE shop_id = 1750 AND order_id = :g1;
-- the event says which addresses, not what they say
SELECT detail -> 'addresses' AS addresses, detail::text LIKE '%Bangkok%' AS leaks_city
  FROM order_mgmt.order_event WHERE shop_id = 1750 AND order_id = :g1 AND kind = 'checkout';

-- a member with shipping and billing addresses (named arguments, the new last two)
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 2}]', customer_id => 'mary',
       shipping_address => '{"name": "Mary Lin", "line1": "No. 7, Sec. 5, Xinyi Rd", "city": "Taipei", "country": "TW"}',
       billing_address => '{"line1": "PO Box 12", "country": "TW"}') AS m1 \gset
SELECT kind, version, address ->> 'line1' AS line1 FROM order_mgmt.order_address
 WHERE shop_id = 1750 AND order_id = :m1 ORDER BY kind;
SELECT detail -> 'addresses' AS addresses FROM order_mgmt.order_event
 WHERE shop_id = 1750 AND order_id = :m1 AND kind = 'checkout';
-- positionally, after store_credit
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', 'mary', NULL, NULL, 'credit_card',
       'standard', 0, NULL, NULL, NULL, NULL, 0,
       '{"line1": "1 Main St", "city": "Helsinki", "country": "FI"}') AS m2 \gset
-- no address: no row, no key in the event
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', customer_id => 'mary') AS m3 \gset
SELECT count(*) AS rows FROM order_mgmt.order_address WHERE shop_id = 1750 AND order_id = :m3;
SELECT detail ? 'addresses' AS has_addresses FROM order_mgmt.order_event
 WHERE shop_id = 1750 AND order_id = :m3 AND kind = 'checkout';

-- ---------------------------------------------------------------------------
-- A malformed address: 22023 with the key in the message, nothing written
-- ---------------------------------------------------------------------------
SELECT count(*) AS orders_before FROM order_mgmt.orders WHERE shop_id = 1750;
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '["1 Main St"]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '"1 Main St"');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '{"line1": "1 Main St", "country": "FI", "street": "x"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '{"line1": "1 Main St", "country": "FI", "postal_code": 10110}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '{"line1": {"street": "Main"}, "country": "FI"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '{"line1": "1 Main St", "country": "FI", "city": null}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => jsonb_build_object('line1', repeat('x', 201), 'country', 'FI'));
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '{"line1": "1 Main St", "city": "Hel\nsinki", "country": "FI"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => jsonb_build_object('line1', '1 Main St', 'city', 'Hel' || chr(133) || 'sinki', 'country', 'FI'));
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '{"line1": "1 Main St", "name": "  ", "country": "FI"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '{"city": "Helsinki", "country": "FI"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '{"line1": "1 Main St"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '{"line1": "1 Main St", "country": "XX"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       shipping_address => '{"line1": "1 Main St", "country": "fi"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'x@example.com',
       billing_address => '{"line1": "1 Main St", "country": "FIN"}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS orders_after FROM order_mgmt.orders WHERE shop_id = 1750;
SELECT available FROM order_mgmt.stock_level WHERE shop_id = 1750 AND sku = 'A';

-- ---------------------------------------------------------------------------
-- set_address: a new version until the order ships; the event names fields
-- ---------------------------------------------------------------------------
SELECT order_mgmt.set_address(1750, :g1, 'shipping',
       '{"name": "Somchai P.", "line1": "99 Sukhumvit Rd", "city": "Nonthaburi", "postal_code": "11000", "country": "TH", "phone": "+66 2 123 4567"}') AS version;
SELECT detail FROM order_mgmt.order_event WHERE shop_id = 1750 AND order_id = :g1 AND kind = 'address';
-- the same again: nothing happens (no version, no event)
SELECT order_mgmt.set_address(1750, :g1, 'shipping',
       '{"country": "TH", "phone": "+66 2 123 4567", "name": "Somchai P.", "line1": "99 Sukhumvit Rd", "city": "Nonthaburi", "postal_code": "11000"}') AS version;
SELECT count(*) AS address_events FROM order_mgmt.order_event WHERE shop_id = 1750 AND order_id = :g1 AND kind = 'address';
-- a billing address the order did not have (200 characters, 400 bytes: fine)
SELECT order_mgmt.set_address(1750, :g1, 'billing', jsonb_build_object('line1', repeat('å', 200), 'country', 'TH')) AS version;
-- NULL removes it; NULL again changes nothing
SELECT order_mgmt.set_address(1750, :g1, 'billing', NULL) AS version;
SELECT order_mgmt.set_address(1750, :g1, 'billing', NULL) AS version;
SELECT order_mgmt.set_address(1750, :m3, 'billing', NULL) AS never_set;
SELECT kind, version, address IS NULL AS removed FROM order_mgmt.order_address
 WHERE shop_id = 1750 AND order_id = :g1 ORDER BY kind, version;
SELECT detail FROM order_mgmt.order_event WHERE shop_id = 1750 AND order_id = :g1 AND kind = 'address'
 ORDER BY event_id;
-- bad calls: 22023, OM007, and nothing changes
SELECT order_mgmt.set_address(1750, :g1, 'home', '{"line1": "x", "country": "TH"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_address(1750, :g1, NULL, '{"line1": "x", "country": "TH"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_address(1750, :g1, 'shipping', '{"line1": "x", "country": "TH", "zip": "1"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_address(1750, 1759999, 'shipping', '{"line1": "x", "country": "TH"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_address(1759, :g1, 'shipping', '{"line1": "x", "country": "TH"}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS versions FROM order_mgmt.order_address WHERE shop_id = 1750 AND order_id = :g1;

-- once shipped: OM013; cancelled: OM013; archived: OM008
SELECT order_mgmt.mark_paid(1750, :m2);
SELECT order_mgmt.ship(1750, :m2, 'black cat', 'T-1') > 0 AS shipped;
SELECT order_mgmt.set_address(1750, :m2, 'shipping', '{"line1": "2 Main St", "country": "FI"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.cancel(1750, :m3, 'changed_mind');
SELECT order_mgmt.set_address(1750, :m3, 'shipping', '{"line1": "2 Main St", "country": "FI"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.archive(1750, :m3);
SELECT order_mgmt.set_address(1750, :m3, 'shipping', '{"line1": "2 Main St", "country": "FI"}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS rows FROM order_mgmt.order_address WHERE shop_id = 1750 AND order_id IN (:m2, :m3);

-- roles: the shop backend sets addresses, only an admin erases
SET ROLE order_mgmt_app;
SELECT order_mgmt.set_address(1750, :m1, 'billing', '{"line1": "PO Box 13", "country": "TW"}') AS version;
SELECT order_mgmt.erase_customer(1750, 'mary');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT actor FROM order_mgmt.order_address WHERE shop_id = 1750 AND order_id = :m1 AND kind = 'billing' AND version = 2;

-- ---------------------------------------------------------------------------
-- The reports that list orders show where they ship to
-- ---------------------------------------------------------------------------
SELECT order_id = :g1 AS guest, followup, ship_to FROM order_mgmt.report_followups(1750)
 WHERE order_id IN (:g1, :m1) ORDER BY order_id;
SET order_mgmt.clock = '2026-12-07 12:00+00';
SELECT order_id = :g1 AS guest, reason, ship_to FROM order_mgmt.report_stuck(1750, '1 hour')
 WHERE order_id IN (:g1, :m1) ORDER BY order_id;
SELECT order_mgmt.cancel(1750, :g1, 'shipping_cost');
SELECT reason, ship_to FROM order_mgmt.report_cancellations(1750, '2026-12-07', '2026-12-07')
 WHERE order_id IN (:g1, :m3) ORDER BY order_id;
SELECT order_mgmt.issue_winback_code(1750, :g1) AS winback;

-- ---------------------------------------------------------------------------
-- A guest order of Mary's e-mail, with the per-customer code
-- ---------------------------------------------------------------------------
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'mary@example.COM',
       promo_code => 'ONCE',
       shipping_address => '{"line1": "No. 7, Sec. 5, Xinyi Rd", "city": "Taipei", "country": "TW"}') AS mg \gset
SELECT who, email_key FROM order_mgmt.promo_redemption WHERE shop_id = 1750 ORDER BY order_id;
SELECT who, used FROM order_mgmt.promo_customer_use WHERE shop_id = 1750 ORDER BY who;

-- ---------------------------------------------------------------------------
-- erase_customer: names, e-mails, addresses blanked; money and history kept
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE kept AS
SELECT o.order_id, o.status, o.payment_status, o.delivery_status, o.total, o.paid_amount, o.archived_at,
       (SELECT count(*) FROM order_mgmt.order_line l WHERE l.shop_id = o.shop_id AND l.order_id = o.order_id) AS lines,
       (SELECT count(*) FROM order_mgmt.order_event e WHERE e.shop_id = o.shop_id AND e.order_id = o.order_id) AS events
  FROM order_mgmt.orders o WHERE o.shop_id = 1750;
SELECT order_mgmt.erase_customer(1750, 'mary') AS orders_erased;
SELECT customer_id, email, email_key, name, phone, is_member FROM order_mgmt.customer WHERE shop_id = 1750;
SELECT order_id = :mg AS guest_of_mary, customer_id, email, email_key, archived_at IS NOT NULL AS archived
  FROM order_mgmt.orders WHERE shop_id = 1750 AND order_id IN (:m1, :m2, :m3, :mg) ORDER BY order_id;
SELECT order_id = :mg AS guest_of_mary, kind, version, address, erased_at IS NOT NULL AS erased
  FROM order_mgmt.order_address WHERE shop_id = 1750 AND order_id IN (:m1, :m2, :mg) ORDER BY order_id, kind, version;
SELECT order_id = :mg AS guest_of_mary, detail FROM order_mgmt.order_event
 WHERE shop_id = 1750 AND kind = 'erasure' ORDER BY order_id;
-- the guest's per-e-mail count now counts under a digest
SELECT order_id = :g1 AS other_guest, who, email_key FROM order_mgmt.promo_redemption WHERE shop_id = 1750 ORDER BY order_id;
SELECT who, used FROM order_mgmt.promo_customer_use WHERE shop_id = 1750 ORDER BY who;
-- nothing else moved: every order's money, statuses, lines; events only grew by the erasures
SELECT count(*) AS changed FROM kept k JOIN order_mgmt.orders o ON o.shop_id = 1750 AND o.order_id = k.order_id
 WHERE (o.status, o.payment_status, o.delivery_status, o.total, o.paid_amount, o.archived_at)
       IS DISTINCT FROM (k.status, k.payment_status, k.delivery_status, k.total, k.paid_amount, k.archived_at)
    OR k.lines <> (SELECT count(*) FROM order_mgmt.order_line l WHERE l.shop_id = 1750 AND l.order_id = k.order_id)
    OR k.events + CASE WHEN k.order_id IN (:m1, :m2, :m3, :mg) THEN 1 ELSE 0 END
       <> (SELECT count(*) FROM order_mgmt.order_event e WHERE e.shop_id = 1750 AND e.order_id = k.order_id);
-- a second call is a no-op
SELECT order_mgmt.erase_customer(1750, 'mary') AS orders_erased;
SELECT count(*) AS erasure_events FROM order_mgmt.order_event WHERE shop_id = 1750 AND kind = 'erasure';
-- the reports show the blanks
SELECT order_id = :mg AS guest_of_mary, email, ship_to FROM order_mgmt.report_followups(1750)
 WHERE order_id IN (:m1, :mg) ORDER BY order_id;
-- the customer goes on: a new address after the erasure is new data
SELECT order_mgmt.set_address(1750, :m1, 'shipping', '{"line1": "8 Songren Rd", "city": "Taipei", "country": "TW"}') AS version;
SELECT detail FROM order_mgmt.order_event WHERE shop_id = 1750 AND order_id = :m1 AND kind = 'address'
 ORDER BY event_id DESC LIMIT 1;
-- bad calls
SELECT order_mgmt.erase_customer(1750, 'nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.erase_customer(1759, 'mary');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.erase_customer(1750, NULL);
\echo :LAST_ERROR_SQLSTATE

-- ---------------------------------------------------------------------------
-- erase_guest: the guest orders of an e-mail, as normalize_email matches it
-- ---------------------------------------------------------------------------
SELECT order_mgmt.erase_guest(1750, ' GUEST@example.com ') AS orders_erased;
SELECT email, email_key FROM order_mgmt.orders WHERE shop_id = 1750 AND order_id = :g1;
SELECT kind, version, address IS NULL AS blank, erased_at IS NOT NULL AS erased
  FROM order_mgmt.order_address WHERE shop_id = 1750 AND order_id = :g1 ORDER BY kind, version;
-- its win-back code keeps only the digest: no e-mail can use it now
SELECT code, email_key LIKE 'sha256:%' AS digested FROM order_mgmt.promo_code WHERE shop_id = 1750 AND email_key IS NOT NULL;
SELECT who LIKE 'email:sha256:%' AS digested, used FROM order_mgmt.promo_customer_use WHERE shop_id = 1750 ORDER BY who;
SELECT order_mgmt.erase_guest(1750, 'guest@example.com') AS orders_erased;
SELECT order_mgmt.erase_guest(1750, 'nobody@example.com') AS orders_erased;
SELECT order_mgmt.erase_guest(1750, ' ');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.erase_guest(1759, 'guest@example.com');
\echo :LAST_ERROR_SQLSTATE
-- the e-mail may be used again: it is not matched against the digest
SELECT order_mgmt.checkout(1750, '[{"sku": "A", "qty": 1}]', email => 'guest@example.com',
       promo_code => 'ONCE') > 0 AS ordered_again;

-- no personal data left in the log of the erased orders
SELECT count(*) AS leaks FROM order_mgmt.order_event
 WHERE shop_id = 1750 AND (detail::text ILIKE '%example.com%' OR detail::text LIKE '%Xinyi%' OR detail::text LIKE '%Sukhumvit%');

SELECT * FROM order_mgmt.verify(1750);
RESET order_mgmt.clock;
