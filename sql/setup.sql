-- Set-up functions (SPEC §20): happy paths and every kind of bad input.
SET order_mgmt.clock = '2026-04-01 09:00+00';

SELECT order_mgmt.create_shop(40, 'Taipei Tea');
SELECT order_mgmt.create_shop(shop_id => 41, name => 'Bangkok Bites', currency => 'thb',
							  locale => 'th-TH', timezone => 'Asia/Bangkok');
SELECT order_mgmt.create_shop(42, 'Helsinki Home', 'EUR', 'fi_FI', 'Europe/Helsinki');
SELECT shop_id, name, currency, locale, timezone, payment_timeout, auto_cancel_failed,
	   allow_customer_cancel, stock_buckets, created_at
FROM order_mgmt.shop WHERE shop_id BETWEEN 40 AND 42 ORDER BY shop_id;

-- create_shop: bad input
SELECT order_mgmt.create_shop(40, 'Again');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_shop(NULL, 'No id');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_shop(-1, 'Negative');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_shop(43, '   ');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_shop(43, 'Shop', currency => 'XYZ');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_shop(43, 'Shop', currency => 'NT$');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_shop(43, 'Shop', locale => 'zh TW');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_shop(43, 'Shop', timezone => 'Mars/Olympus');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.create_shop(43, 'Shop', timezone => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM order_mgmt.shop WHERE shop_id = 43;

-- update_shop: any setting by name
SELECT order_mgmt.update_shop(40, '{"payment_timeout": "15 minutes", "auto_cancel_failed": true,
	"auto_cancel_delay": "1 hour", "auto_archive_after": "90 days", "reward_rate": 0.5,
	"high_value_threshold": 3000, "stock_buckets": 4, "admission_queue": true, "name": "Taipei Tea House"}');
SELECT name, payment_timeout, auto_cancel_failed, auto_cancel_delay, auto_archive_after,
	   reward_rate, high_value_threshold, stock_buckets, admission_queue
FROM order_mgmt.shop WHERE shop_id = 40;
-- null clears what may be null; an empty object changes nothing
SELECT order_mgmt.update_shop(40, '{"auto_archive_after": null}');
SELECT order_mgmt.update_shop(40, '{}');
SELECT auto_archive_after, payment_timeout FROM order_mgmt.shop WHERE shop_id = 40;

-- update_shop: bad input changes nothing
SELECT order_mgmt.update_shop(40, '{"payment_timeout": "5 minutes", "paymnet_timeout": "1 hour"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(40, '{"payment_timeout": "soon"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(40, '{"payment_timeout": "-5 minutes"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(40, '{"payment_timeout": null}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(40, '{"stock_buckets": 0}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(40, '{"stock_buckets": 99999999999}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(40, '{"reward_rate": "NaN"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(40, '{"auto_cancel_failed": "perhaps"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(40, '{"currency": "ABC"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(40, '{"reward_rate": [1]}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(40, '[1, 2]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(40, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(999, '{"name": "Nobody"}');
\echo :LAST_ERROR_SQLSTATE
SELECT payment_timeout, stock_buckets, reward_rate FROM order_mgmt.shop WHERE shop_id = 40;

-- upsert_sku
SELECT order_mgmt.upsert_sku(41, 'TEE-RED-M', 390, product_id => 'TEE', title => 'Tee, red, M',
							 attrs => '{"color": "red", "size": "M"}');
SELECT order_mgmt.upsert_sku(41, 'EBOOK', 120, digital => true);
SELECT order_mgmt.upsert_sku(41, '茶葉-烏龍', 450);
SELECT sku, price, product_id, attrs, digital FROM order_mgmt.sku WHERE shop_id = 41 ORDER BY sku;
-- stock rows: none for digital goods
SELECT sku, bucket, on_hand, reserved FROM order_mgmt.stock WHERE shop_id = 41 ORDER BY sku, bucket;
-- the upsert replaces
SELECT order_mgmt.upsert_sku(41, 'TEE-RED-M', 350, product_id => 'TEE');
SELECT price, title, attrs FROM order_mgmt.sku WHERE shop_id = 41 AND sku = 'TEE-RED-M';

-- upsert_sku: bad input
SELECT order_mgmt.upsert_sku(41, 'X', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(41, 'X', 'NaN');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(41, 'X', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(41, '', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(41, ' X', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(41, E'X\u200B', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(41, E'X\tY', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(41, repeat('x', 201), 1);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(41, 'X', 1, attrs => '["red"]');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(41, 'X', 1, stock_buckets => 65);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(41, 'X', 1, digital => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_sku(999, 'X', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM order_mgmt.sku WHERE shop_id = 41 AND sku LIKE '%X%';

-- upsert_customer
SELECT order_mgmt.upsert_customer(41, 'mary', 'Mary.Lee@Example.com ', name => 'Mary');
SELECT order_mgmt.upsert_customer(41, 'john', NULL, is_member => false, phone => '+66 2 123 4567');
SELECT customer_id, email, email_key, is_member, name, phone FROM order_mgmt.customer WHERE shop_id = 41 ORDER BY 1;
SELECT order_mgmt.upsert_customer(41, 'mary', 'ＭＡＲＹ@example.com');
SELECT email_key, name FROM order_mgmt.customer WHERE shop_id = 41 AND customer_id = 'mary';

-- upsert_customer: bad input
SELECT order_mgmt.upsert_customer(41, 'x', 'not-an-email');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_customer(41, 'x', 'a@b@c');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_customer(41, 'x', 'a b@c.d');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_customer(41, NULL, 'a@b.c');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_customer(41, 'x', 'a@b.c', is_member => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.upsert_customer(999, 'x', 'a@b.c');
\echo :LAST_ERROR_SQLSTATE

-- normalize_code and normalize_email (ICU)
SELECT order_mgmt.normalize_code('ＳＡＬＥ１０') AS fullwidth, order_mgmt.normalize_code(' sale10 ') AS spaced,
	   order_mgmt.normalize_code('SALE10') AS upper, order_mgmt.normalize_code(E'SALE\u200B10') AS zero_width,
	   order_mgmt.normalize_code('Straße') AS eszett, order_mgmt.normalize_code('') AS empty,
	   order_mgmt.normalize_code(NULL) AS null_code;

RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify();
