-- A hot SKU spreads itself (issue 21): balance_buckets() gives a SKU whose
-- holds contend more stock buckets (1, 2, 4 ... up to the shop's
-- auto_buckets_max) and merges them back when it cools; stock totals never
-- change, every change is in stock_log.  Contention itself needs
-- concurrent sessions (test/specs/hot_split.spec); here the heat rows are
-- written by hand, with the test clock.
SET order_mgmt.clock = '2026-12-03 09:00:00+00';
SELECT order_mgmt.create_shop(2900, 'Hot SKU shop');
SELECT order_mgmt.upsert_sku(2900, 'HOT', 100);
SELECT order_mgmt.upsert_sku(2900, 'COOL', 100);
SELECT order_mgmt.set_stock(2900, 'HOT', 10);
SELECT order_mgmt.set_stock(2900, 'COOL', 10);
SELECT auto_buckets_max FROM order_mgmt.shop WHERE shop_id = 2900;

-- the setting: 1 .. 64, 1 = off
SELECT order_mgmt.update_shop(2900, '{"auto_buckets_max": 0}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(2900, '{"auto_buckets_max": 65}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(2900, '{"auto_buckets_max": null}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(2900, '{"auto_buckets_max": "many"}');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.update_shop(2900, '{"auto_buckets_max": 3000000000}');
\echo :LAST_ERROR_SQLSTATE
SELECT auto_buckets_max FROM order_mgmt.shop WHERE shop_id = 2900;

-- bad calls change nothing
SELECT order_mgmt.balance_buckets(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.balance_buckets(2999);
\echo :LAST_ERROR_SQLSTATE

-- nothing measured: nothing to do
SELECT order_mgmt.balance_buckets(2900);

-- HOT: 60 contended holds in the last second (>= hot_split_rate 50/s):
-- 1 -> 2 buckets; COOL: 40 in the last second: stays
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since) VALUES
	(2900, 'HOT', 7, 30, '2026-12-03 08:59:59+00'), (2900, 'HOT', 8, 30, '2026-12-03 08:59:59.5+00'),
	(2900, 'COOL', 7, 40, '2026-12-03 08:59:59+00');
SELECT order_mgmt.balance_buckets(2900);
SELECT sku, stock_buckets, auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 ORDER BY sku;
SELECT sku, bucket, on_hand, reserved FROM order_mgmt.stock WHERE shop_id = 2900 ORDER BY sku, bucket;
SELECT sku, delta, on_hand, note FROM order_mgmt.stock_log WHERE shop_id = 2900 AND delta = 0 ORDER BY entry_id;
-- HOT's window starts again (slot 0 marks it); COOL's counts stay
SELECT sku, slot, contended, holds, since FROM order_mgmt.sku_heat WHERE shop_id = 2900 ORDER BY sku, slot;

-- checkout sees K = 2: a hold of a spread SKU counts (holds), and with
-- hot_flush_every = 1 it is written at once
SET order_mgmt.hot_flush_every = 1;
SELECT order_mgmt.checkout(2900, '[{"sku": "HOT", "qty": 3}]') AS o1 \gset
SELECT sku, slot > 0 AS session_row, contended, holds FROM order_mgmt.sku_heat
WHERE shop_id = 2900 AND sku = 'HOT' ORDER BY slot;
-- a hold of a one-bucket SKU that did not wait is not counted
SELECT order_mgmt.checkout(2900, '[{"sku": "COOL", "qty": 1}]') > 0 AS bought;
SELECT sum(contended) AS cool_contended, sum(holds) AS cool_holds FROM order_mgmt.sku_heat
WHERE shop_id = 2900 AND sku = 'COOL';
RESET order_mgmt.hot_flush_every;

-- hotter: 2 -> 4 -> 8 -> 16, and no further (auto_buckets_max 16)
SET order_mgmt.clock = '2026-12-03 09:00:01+00';
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since)
VALUES (2900, 'HOT', 9, 100, '2026-12-03 09:00:00+00');
SELECT order_mgmt.balance_buckets(2900);
SET order_mgmt.clock = '2026-12-03 09:00:02+00';
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since)
VALUES (2900, 'HOT', 9, 100, '2026-12-03 09:00:01+00');
SELECT order_mgmt.balance_buckets(2900);
SET order_mgmt.clock = '2026-12-03 09:00:03+00';
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since)
VALUES (2900, 'HOT', 9, 100, '2026-12-03 09:00:02+00');
SELECT order_mgmt.balance_buckets(2900);
SET order_mgmt.clock = '2026-12-03 09:00:04+00';
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since)
VALUES (2900, 'HOT', 9, 100, '2026-12-03 09:00:03+00');
SELECT order_mgmt.balance_buckets(2900);
SELECT auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'HOT';
-- 10 units over 16 buckets, the 3 held ones still in bucket 0 or 1
SELECT count(*) AS buckets, sum(on_hand) AS on_hand, sum(reserved) AS reserved
FROM order_mgmt.stock WHERE shop_id = 2900 AND sku = 'HOT';
SELECT note FROM order_mgmt.stock_log WHERE shop_id = 2900 AND sku = 'HOT' AND delta = 0 ORDER BY entry_id;

-- spread, the SKU sells to the last unit from whichever buckets have it
SELECT order_mgmt.checkout(2900, '[{"sku": "HOT", "qty": 7}]') > 0 AS bought;
SELECT order_mgmt.checkout(2900, '[{"sku": "HOT", "qty": 1}]') > 0 AS bought;
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.set_stock(2900, 'HOT', 20);
SELECT count(*) AS buckets, sum(on_hand) AS on_hand, sum(reserved) AS reserved,
	   max(on_hand - reserved) - min(on_hand - reserved) AS spread_evenly
FROM order_mgmt.stock WHERE shop_id = 2900 AND sku = 'HOT';

-- cool: fewer than hot_split_rate / 4 holds a second for hot_cool_time
-- (60 s): 16 -> 8; not before the minute is over
SET order_mgmt.clock = '2026-12-03 09:01:03+00';
SELECT order_mgmt.balance_buckets(2900);
SELECT auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'HOT';
SET order_mgmt.clock = '2026-12-03 09:01:04+00';
SELECT order_mgmt.balance_buckets(2900);
SELECT auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'HOT';
-- busy although not contended (800 holds a minute, 13/s): it stays
SET order_mgmt.clock = '2026-12-03 09:02:04+00';
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, holds, since)
VALUES (2900, 'HOT', 9, 800, '2026-12-03 09:01:04+00');
SELECT order_mgmt.balance_buckets(2900);
SELECT auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'HOT';
-- a minute later, cool again: 8 -> 4; buckets that hold reserved units
-- stay until their holds resolve, with no free units beyond the first 4
SET order_mgmt.clock = '2026-12-03 09:03:05+00';
SELECT order_mgmt.balance_buckets(2900);
SELECT auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'HOT';
SELECT count(*) AS buckets, count(*) FILTER (WHERE bucket >= 4) AS draining,
	   sum(on_hand) AS on_hand, sum(reserved) AS reserved,
	   sum(on_hand - reserved) FILTER (WHERE bucket >= 4) AS free_beyond_k
FROM order_mgmt.stock WHERE shop_id = 2900 AND sku = 'HOT';
-- the first order gives its units back; two more cool minutes: 4 -> 2 -> 1,
-- and the buckets left empty are gone
SELECT order_mgmt.cancel(2900, :o1);
SET order_mgmt.clock = '2026-12-03 09:04:06+00';
SELECT order_mgmt.balance_buckets(2900);
SET order_mgmt.clock = '2026-12-03 09:05:07+00';
SELECT order_mgmt.balance_buckets(2900);
SELECT sku, auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'HOT';
SELECT sku, bucket, on_hand, reserved FROM order_mgmt.stock
WHERE shop_id = 2900 AND sku = 'HOT' AND (bucket = 0 OR reserved = 0) ORDER BY bucket;
SELECT count(*) AS heat_rows FROM order_mgmt.sku_heat WHERE shop_id = 2900 AND sku = 'HOT';

-- a merchant's stock_buckets always wins: spread again, then configured,
-- it goes back to the SKU's own K at once
SET order_mgmt.clock = '2026-12-03 09:06:00+00';
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since)
VALUES (2900, 'HOT', 9, 100, '2026-12-03 09:05:59+00');
SELECT order_mgmt.balance_buckets(2900);
SELECT order_mgmt.upsert_sku(2900, 'HOT', 100, stock_buckets => 3);
SELECT order_mgmt.balance_buckets(2900);
SELECT sku, stock_buckets, auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'HOT';
SELECT bucket, on_hand, reserved FROM order_mgmt.stock WHERE shop_id = 2900 AND sku = 'HOT' ORDER BY bucket;
-- and heat no longer spreads it
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since)
VALUES (2900, 'HOT', 9, 100, '2026-12-03 09:05:59+00');
SELECT order_mgmt.balance_buckets(2900);
SELECT auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'HOT';

-- off for the shop (auto_buckets_max 1): COOL, spread, goes back to 1
SET order_mgmt.clock = '2026-12-03 09:07:00+00';
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since)
VALUES (2900, 'COOL', 9, 100, '2026-12-03 09:06:59+00');
SELECT order_mgmt.balance_buckets(2900);
SELECT auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'COOL';
SELECT order_mgmt.update_shop(2900, '{"auto_buckets_max": 1}');
SELECT order_mgmt.balance_buckets(2900);
SELECT auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'COOL';
SELECT bucket, on_hand, reserved FROM order_mgmt.stock WHERE shop_id = 2900 AND sku = 'COOL' ORDER BY bucket;
SELECT order_mgmt.update_shop(2900, '{"auto_buckets_max": 16}');

-- a shop default above 1 is the merchant's choice too: no automatic buckets
SELECT order_mgmt.create_shop(2901, 'Bucketed shop');
SELECT order_mgmt.update_shop(2901, '{"stock_buckets": 2}');
SELECT order_mgmt.upsert_sku(2901, 'HOT', 100);
SELECT order_mgmt.set_stock(2901, 'HOT', 4);
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since)
VALUES (2901, 'HOT', 9, 100, '2026-12-03 09:06:59+00');
SELECT order_mgmt.balance_buckets(2901);
SELECT auto_buckets FROM order_mgmt.sku WHERE shop_id = 2901 AND sku = 'HOT';

-- a lowered cap brings a SKU above it down to it: COOL spread to 4, then
-- auto_buckets_max 3
SET order_mgmt.clock = '2026-12-03 09:08:00+00';
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since)
VALUES (2900, 'COOL', 9, 100, '2026-12-03 09:07:59+00');
SELECT order_mgmt.balance_buckets(2900);
SET order_mgmt.clock = '2026-12-03 09:08:01+00';
INSERT INTO order_mgmt.sku_heat (shop_id, sku, slot, contended, since)
VALUES (2900, 'COOL', 9, 100, '2026-12-03 09:08:00+00');
SELECT order_mgmt.balance_buckets(2900);
SELECT auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'COOL';
SELECT order_mgmt.update_shop(2900, '{"auto_buckets_max": 3}');
SELECT order_mgmt.balance_buckets(2900);
SELECT auto_buckets FROM order_mgmt.sku WHERE shop_id = 2900 AND sku = 'COOL';
SELECT bucket, on_hand, reserved FROM order_mgmt.stock WHERE shop_id = 2900 AND sku = 'COOL' ORDER BY bucket;
SELECT note FROM order_mgmt.stock_log WHERE shop_id = 2900 AND sku = 'COOL' AND delta = 0 ORDER BY entry_id;

-- a crash empties sku_heat (unlogged): a spread SKU starts a new window
DELETE FROM order_mgmt.sku_heat WHERE shop_id = 2900;
SELECT order_mgmt.balance_buckets(2900);
SELECT sku, slot, contended, holds FROM order_mgmt.sku_heat WHERE shop_id = 2900 ORDER BY sku, slot;

-- the admin may call it, the app may not
SET ROLE order_mgmt_app;
SELECT order_mgmt.balance_buckets(2900);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

SELECT * FROM order_mgmt.verify(2900);
SELECT * FROM order_mgmt.verify(2901);
RESET order_mgmt.clock;
