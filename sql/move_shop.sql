-- move_shop() (issue 16, docs/citus.md "Moving shops") moves a shop's
-- shard group to another Citus worker and rebases its outbox there.  On a
-- single node it is refused like distribute(); rebased_snapshot(), the
-- translation of a consumer's position, is tested here on its own.
\set VERBOSITY default
SELECT order_mgmt.move_shop(2600, 'worker2', 5432);
-- groups of transactions starting at 100, 105, 110 became 1, 2, 3
SELECT s AS old_snapshot,
	order_mgmt.rebased_snapshot(s::pg_snapshot, '{100,105,110}', '{1,2,3}') AS new_snapshot
FROM (VALUES ('106:112:'), ('103:112:105'), ('108:108:'), ('1:1:'), ('99:99:')) v(s);
SELECT order_mgmt.rebased_snapshot(NULL, '{100}', '{1}') IS NULL AS no_batch,
	order_mgmt.rebased_snapshot('200:200:', '{}', '{}') AS no_events;
SELECT * FROM order_mgmt.verify(2600);
