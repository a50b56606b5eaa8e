-- Times verify() over every shop and over shop 1 (after gen_orders.sql and
-- gen_ledgers.sql); on their data it must find nothing.
\timing on
SELECT 'all', count(*) FROM order_mgmt.verify();
SELECT 'shop1', count(*) FROM order_mgmt.verify(1);
