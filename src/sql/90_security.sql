
-- Roles and privileges (SPEC §17).  Roles are created when absent; they are
-- cluster-wide and outlive the extension.
--
-- A role of one of these names that already exists is reused only if it is
-- as harmless as the one this script would create: NOLOGIN, without
-- SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS, and a member
-- of no other role.  Anything else stops the install (55000) before a role
-- is created or a right granted: the role may belong to someone who
-- created it to receive the grants, and whoever is granted it would also
-- get what it holds.  Members of the role are not checked: they are the
-- role's purpose (granted by an administrator in another database, or
-- before a reinstall).  The same check runs again on ALTER EXTENSION
-- UPDATE (the upgrade script's issue 19 section).  docs/reference.md,
-- "Roles".

DO $$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT a.rolname,
			   pg_catalog.string_agg(f.attr, ', ' ORDER BY f.n) FILTER (WHERE f.has) AS attrs,
			   pg_catalog.string_agg('NO' || f.attr, ' ' ORDER BY f.n) FILTER (WHERE f.has) AS remedy,
			   (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(g.rolname), ', ' ORDER BY g.rolname)
				FROM pg_catalog.pg_auth_members m
				JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
				WHERE m.member = a.oid) AS member_of
		FROM pg_catalog.pg_roles a
		CROSS JOIN LATERAL (VALUES (1, 'LOGIN', a.rolcanlogin), (2, 'SUPERUSER', a.rolsuper),
								   (3, 'CREATEROLE', a.rolcreaterole), (4, 'CREATEDB', a.rolcreatedb),
								   (5, 'REPLICATION', a.rolreplication), (6, 'BYPASSRLS', a.rolbypassrls))
			AS f(n, attr, has)
		WHERE a.rolname IN ('order_mgmt_app', 'order_mgmt_admin', 'order_mgmt_report')
		GROUP BY a.oid, a.rolname
		ORDER BY a.rolname
	LOOP
		IF r.attrs IS NOT NULL THEN
			RAISE EXCEPTION 'cannot install order_mgmt: role "%" already exists with %', r.rolname, r.attrs
				USING ERRCODE = '55000',
					DETAIL = pg_catalog.format('Role %I has %s. Roles are shared by every database of the cluster, '
											   'and the extension grants its rights to an existing role of this name: '
											   'a role that can log in or holds such attributes must not receive them.',
											   r.rolname, r.attrs),
					HINT = pg_catalog.format('Drop or rename the role, or remove the attributes (ALTER ROLE %I %s), then retry.',
											 r.rolname, r.remedy);
		END IF;
		IF r.member_of IS NOT NULL THEN
			RAISE EXCEPTION 'cannot install order_mgmt: role "%" is a member of %', r.rolname, r.member_of
				USING ERRCODE = '55000',
					DETAIL = pg_catalog.format('Role %I is a member of %s. Every role granted %I, in any database of '
											   'the cluster, would also get the rights of %s.',
											   r.rolname, r.member_of, r.rolname, r.member_of),
					HINT = pg_catalog.format('Drop or rename the role, or REVOKE %s FROM %I, then retry.',
											 r.member_of, r.rolname);
		END IF;
	END LOOP;
END
$$;

DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['order_mgmt_app', 'order_mgmt_admin', 'order_mgmt_report'] LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA order_mgmt FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA order_mgmt FROM PUBLIC;
GRANT USAGE ON SCHEMA order_mgmt TO order_mgmt_app, order_mgmt_admin, order_mgmt_report;

-- everyone may read the clock and use the pure helpers; tables stay closed
GRANT USAGE ON SCHEMA order_mgmt TO PUBLIC;
GRANT EXECUTE ON FUNCTION order_mgmt.now(), order_mgmt.normalize_code(text),
	order_mgmt.normalize_email(text), order_mgmt.transition_table(),
	order_mgmt.label(anyenum, text), order_mgmt.format_money(numeric, text, text),
	order_mgmt.minor_units(text) TO PUBLIC;
GRANT SELECT ON order_mgmt.transitions, order_mgmt.status_label TO PUBLIC;

-- reports: read everything, run verify
GRANT SELECT ON ALL TABLES IN SCHEMA order_mgmt TO order_mgmt_report, order_mgmt_admin;
GRANT EXECUTE ON FUNCTION order_mgmt.verify(bigint),
	order_mgmt.report_daily_breakdown(bigint, date, date),
	order_mgmt.report_lost_orders(bigint, date, date),
	order_mgmt.report_cancel_reasons(bigint, date, date),
	order_mgmt.report_followups(bigint),
	order_mgmt.report_recovery(bigint, date, date),
	order_mgmt.report_variant_mix(bigint, text, date, date, integer),
	order_mgmt.report_stuck(bigint, interval),
	order_mgmt.report_cancellations(bigint, date, date),
	order_mgmt.shop_day_range(bigint, date, date)
	TO order_mgmt_report, order_mgmt_admin;
REVOKE ALL ON FUNCTION order_mgmt.check_invariants(bigint) FROM PUBLIC;

-- row-level security by shop (issue 19): the policies call rls_shops() as
-- the querying role, which learns only its own shops
GRANT EXECUTE ON FUNCTION order_mgmt.rls_shops() TO PUBLIC;
GRANT EXECUTE ON FUNCTION order_mgmt.check_shop_access(bigint)
	TO order_mgmt_app, order_mgmt_admin, order_mgmt_report;
GRANT EXECUTE ON FUNCTION order_mgmt.enable_rls(), order_mgmt.disable_rls(),
	order_mgmt.grant_shop_access(bigint, name), order_mgmt.revoke_shop_access(bigint, name)
	TO order_mgmt_admin;

-- merchant operations and settings
GRANT EXECUTE ON FUNCTION
	order_mgmt.create_shop(bigint, text, text, text, text),
	order_mgmt.update_shop(bigint, jsonb),
	order_mgmt.enable_notify(bigint),
	order_mgmt.upsert_sku(bigint, text, numeric, text, text, jsonb, boolean, boolean, integer, boolean),
	order_mgmt.set_stock(bigint, text, integer),
	order_mgmt.adjust_stock(bigint, text, integer, text),
	order_mgmt.balance_buckets(bigint),
	order_mgmt.upsert_customer(bigint, text, text, boolean, text, text)
	TO order_mgmt_admin;
-- admins may also move orders by hand, or save whole rows from an ORM; the
-- guard triggers still judge every move and refuse every column the API owns
GRANT UPDATE ON order_mgmt.orders TO order_mgmt_admin;
GRANT INSERT, UPDATE, DELETE ON order_mgmt.status_label TO order_mgmt_admin;

GRANT EXECUTE ON FUNCTION
	order_mgmt.create_promo(bigint, text, order_mgmt.promo_kind, numeric, integer, integer, numeric, timestamptz, timestamptz, text, text[], text[]),
	order_mgmt.issue_winback_code(bigint, bigint, order_mgmt.promo_kind, numeric, interval),
	order_mgmt.confirm(bigint, bigint),
	order_mgmt.reactivate(bigint, bigint, order_mgmt.order_status),
	order_mgmt.mark_paid(bigint, bigint, text),
	order_mgmt.refund(bigint, bigint, numeric, text, text, order_mgmt.refund_method),
	order_mgmt.run_due(integer),
	order_mgmt.run_due_shop(bigint, integer),
	order_mgmt.set_delivery_status(bigint, bigint, order_mgmt.delivery_status, text, text),
	order_mgmt.ship(bigint, bigint, text, text),
	order_mgmt.ship_package(bigint, bigint, jsonb, text, text, date),
	order_mgmt.set_shipment_status(bigint, bigint, order_mgmt.delivery_status),
	order_mgmt.set_tracking(bigint, bigint, text, text, date),
	order_mgmt.complete(bigint, bigint),
	order_mgmt.archive(bigint, bigint),
	order_mgmt.unarchive(bigint, bigint),
	order_mgmt.add_note(bigint, bigint, order_mgmt.note_kind, text),
	order_mgmt.create_rule(bigint, text, order_mgmt.payment_status[], order_mgmt.delivery_status[], interval),
	order_mgmt.approve_return(bigint, bigint),
	order_mgmt.reject_return(bigint, bigint, text),
	order_mgmt.receive_return(bigint, bigint, boolean),
	order_mgmt.ship_exchange(bigint, bigint, text, text),
	order_mgmt.credit_note(bigint, bigint),
	order_mgmt.grant_store_credit(bigint, text, numeric, text),
	order_mgmt.adjust_store_credit(bigint, text, numeric, text),
	order_mgmt.erase_customer(bigint, text),
	order_mgmt.erase_guest(bigint, text)
	TO order_mgmt_admin;

-- the shop backend: what a storefront and a payment callback do
GRANT EXECUTE ON FUNCTION
	order_mgmt.upsert_customer(bigint, text, text, boolean, text, text),
	order_mgmt.checkout(bigint, jsonb, text, text, text, text, order_mgmt.logistics_kind, numeric, text, interval, interval, text, numeric, jsonb, jsonb),
	order_mgmt.store_credit_balance(bigint, text),
	order_mgmt.set_address(bigint, bigint, text, jsonb),
	order_mgmt.cancel(bigint, bigint, order_mgmt.cancel_reason, text, order_mgmt.cancel_source),
	order_mgmt.payment_started(bigint, bigint, text),
	order_mgmt.payment_succeeded(bigint, bigint, numeric, text, text),
	order_mgmt.payment_failed(bigint, bigint, text, text),
	order_mgmt.events_since(bigint, bigint, integer),
	order_mgmt.register_consumer(bigint, text, boolean),
	order_mgmt.next_events(bigint, text, integer),
	order_mgmt.drop_consumer(bigint, text),
	order_mgmt.customer_cancel(bigint, bigint, text, order_mgmt.cancel_reason, text),
	order_mgmt.can_customer_cancel(bigint, bigint, text),
	order_mgmt.record_feedback(bigint, bigint, order_mgmt.cancel_reason, text, integer),
	order_mgmt.add_lines(bigint, bigint, jsonb),
	order_mgmt.edit_order(bigint, bigint, jsonb, text, bigint),
	order_mgmt.request_return(bigint, bigint, jsonb, text, boolean, order_mgmt.return_method, text, text),
	order_mgmt.request_exchange(bigint, bigint, text, text, integer, boolean, order_mgmt.return_method, text, text),
	order_mgmt.set_return_tracking(bigint, bigint, text, text, order_mgmt.return_method),
	order_mgmt.cancel_return(bigint, bigint)
	TO order_mgmt_app, order_mgmt_admin;

-- pg_dump: extension data is dumped (SPEC §18)
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.shop', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.sku', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.stock', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.stock_log', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.customer', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.orders', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.order_line', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.reservation', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.promo_code', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.promo_redemption', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.promo_customer_use', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.payment', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.order_event', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.due_action', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.event_consumer', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.status_label', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.shipment', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.shipment_line', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.automation_rule', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.reward_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.store_credit_balance', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.store_credit_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.store_credit_entry_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.cancel_feedback', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.order_address', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.shop_access', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.return_request', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.return_line', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.return_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.shipment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.entry_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.order_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.reservation_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.payment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.event_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.stock_log_entry_id_seq', '');
