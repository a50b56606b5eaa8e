-- order_mgmt.now() and the test clock (SPEC §13).

-- without a test clock: the transaction start time
BEGIN;
SELECT order_mgmt.now() = transaction_timestamp() AS is_transaction_start;
SELECT pg_sleep(0.01);
SELECT order_mgmt.now() = transaction_timestamp() AS still_transaction_start;
COMMIT;

-- with one: the instant set, whatever the session time zone
SET order_mgmt.clock = '2026-01-01 12:00+00';
SELECT order_mgmt.now();
SET TimeZone = 'Asia/Taipei';
SELECT order_mgmt.now();
SHOW order_mgmt.clock;
SET order_mgmt.clock = '2026-03-01 08:30';	-- no offset: the session time zone
SELECT order_mgmt.now() AT TIME ZONE 'UTC' AS utc;
RESET TimeZone;

-- travelling forward inside a transaction, as tests do
BEGIN;
SET LOCAL order_mgmt.clock = '2030-06-15 00:00+00';
SELECT order_mgmt.now();
COMMIT;
SELECT order_mgmt.now();

-- empty or RESET: back to the transaction start
SET order_mgmt.clock = '';
SELECT order_mgmt.now() = transaction_timestamp() AS is_transaction_start;
SET order_mgmt.clock = '2026-01-01 12:00+00';
RESET order_mgmt.clock;
SELECT order_mgmt.now() = transaction_timestamp() AS is_transaction_start;

-- bad values are refused and leave the clock as it was
SET order_mgmt.clock = '2026-01-01 12:00+00';
SET order_mgmt.clock = 'next tuesday';
\echo :LAST_ERROR_SQLSTATE
SET order_mgmt.clock = 'infinity';
\echo :LAST_ERROR_SQLSTATE
SET order_mgmt.clock = '2026-02-30 00:00+00';
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.now();
RESET order_mgmt.clock;

-- only superusers may set it: it changes when deadlines fall due
CREATE ROLE om_clock_user;
SET ROLE om_clock_user;
SET order_mgmt.clock = '2026-01-01 12:00+00';
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.now() = transaction_timestamp() AS is_transaction_start;
RESET ROLE;
DROP ROLE om_clock_user;
