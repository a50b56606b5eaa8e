
-- The shop API (SPEC §20): checkout, promo codes, cancel and reactivate,
-- payments, deadlines, events.  Argument names are the contract.

CREATE FUNCTION order_mgmt.checkout(shop_id bigint, lines jsonb, customer_id text DEFAULT NULL,
		email text DEFAULT NULL, promo_code text DEFAULT NULL,
		payment_method text DEFAULT 'credit_card',
		logistics order_mgmt.logistics_kind DEFAULT 'standard',
		shipping_fee numeric DEFAULT 0, order_no text DEFAULT NULL,
		payment_timeout interval DEFAULT NULL, hold interval DEFAULT NULL,
		idempotency_key text DEFAULT NULL, store_credit numeric DEFAULT 0,
		shipping_address jsonb DEFAULT NULL, billing_address jsonb DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_checkout'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.checkout(bigint, jsonb, text, text, text, text, order_mgmt.logistics_kind, numeric, text, interval, interval, text, numeric, jsonb, jsonb) IS
	'Creates an order from lines [{"sku":"A","qty":2}, ...], holds its stock, claims its promo code, spends store_credit of the customer''s balance and records its shipping and billing addresses, all or nothing; returns order_id';

CREATE FUNCTION order_mgmt.create_promo(shop_id bigint, code text, kind order_mgmt.promo_kind,
		value numeric, usage_limit integer DEFAULT NULL, per_customer_limit integer DEFAULT NULL,
		min_subtotal numeric DEFAULT 0, starts_at timestamptz DEFAULT NULL,
		ends_at timestamptz DEFAULT NULL, customer_id text DEFAULT NULL,
		products text[] DEFAULT NULL, skus text[] DEFAULT NULL)
	RETURNS text
	AS 'MODULE_PATHNAME', 'om_create_promo'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.create_promo(bigint, text, order_mgmt.promo_kind, numeric, integer, integer, numeric, timestamptz, timestamptz, text, text[], text[]) IS
	'Creates a promo code, for the whole order or only for the lines of products or skus; returns its key normalize_code(code)';

CREATE FUNCTION order_mgmt.issue_winback_code(shop_id bigint, order_id bigint,
		kind order_mgmt.promo_kind DEFAULT 'percent', value numeric DEFAULT 10,
		valid_for interval DEFAULT '30 days')
	RETURNS text
	AS 'MODULE_PATHNAME', 'om_issue_winback_code'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.issue_winback_code(bigint, bigint, order_mgmt.promo_kind, numeric, interval) IS
	'A personal single-use code for the customer of a cancelled order, or for a guest order''s e-mail (seed 003); returns its key';

CREATE FUNCTION order_mgmt.cancel(shop_id bigint, order_id bigint,
		reason order_mgmt.cancel_reason DEFAULT 'other', note text DEFAULT NULL,
		source order_mgmt.cancel_source DEFAULT 'merchant')
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_cancel'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.cancel(bigint, bigint, order_mgmt.cancel_reason, text, order_mgmt.cancel_source) IS
	'Cancels an order before shipment: releases its stock and promo code; a paid order''s payment becomes refunding';

CREATE FUNCTION order_mgmt.confirm(shop_id bigint, order_id bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_confirm'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.confirm(bigint, bigint) IS 'Moves a pending order to confirmed';

CREATE FUNCTION order_mgmt.reactivate(shop_id bigint, order_id bigint,
		to_status order_mgmt.order_status DEFAULT 'confirmed')
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_reactivate'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.reactivate(bigint, bigint, order_mgmt.order_status) IS
	'Brings a cancelled order back: holds its stock and re-claims its promo code, all or nothing (OM001/OM003/OM004)';

CREATE FUNCTION order_mgmt.payment_started(shop_id bigint, order_id bigint, provider_ref text)
	RETURNS order_mgmt.payment_status
	AS 'MODULE_PATHNAME', 'om_payment_started'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.payment_started(bigint, bigint, text) IS
	'Records a payment attempt: payment becomes pending; idempotent on provider_ref';

CREATE FUNCTION order_mgmt.payment_succeeded(shop_id bigint, order_id bigint, amount numeric,
		provider_ref text, method text DEFAULT NULL)
	RETURNS order_mgmt.payment_status
	AS 'MODULE_PATHNAME', 'om_payment_succeeded'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.payment_succeeded(bigint, bigint, numeric, text, text) IS
	'Records money received: paid once the total is covered; a late capture reactivates or owes the money back; idempotent on provider_ref';

CREATE FUNCTION order_mgmt.payment_failed(shop_id bigint, order_id bigint, reason text,
		provider_ref text DEFAULT NULL)
	RETURNS order_mgmt.payment_status
	AS 'MODULE_PATHNAME', 'om_payment_failed'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.payment_failed(bigint, bigint, text, text) IS
	'Records a failed payment: an unpaid or pending order becomes failed; idempotent on provider_ref';

CREATE FUNCTION order_mgmt.mark_paid(shop_id bigint, order_id bigint, note text DEFAULT NULL)
	RETURNS order_mgmt.payment_status
	AS 'MODULE_PATHNAME', 'om_mark_paid'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.mark_paid(bigint, bigint, text) IS
	'The merchant collected the money another way: unpaid, pending or failed becomes paid';

CREATE FUNCTION order_mgmt.refund(shop_id bigint, order_id bigint, amount numeric,
		provider_ref text DEFAULT NULL, note text DEFAULT NULL,
		method order_mgmt.refund_method DEFAULT NULL)
	RETURNS order_mgmt.payment_status
	AS 'MODULE_PATHNAME', 'om_refund'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.refund(bigint, bigint, numeric, text, text, order_mgmt.refund_method) IS
	'Returns money, by method (card, bank_transfer, store_credit, cash, other) when given: refunded when all paid money is back, else partially_refunded; never above paid (OM010)';

CREATE FUNCTION order_mgmt.run_due(max_actions integer DEFAULT 1000)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'om_run_due'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.run_due(integer) IS
	'Performs due deadlines (payment timeout, auto-cancel) without waiting on any row; returns how many; safe to run concurrently';

CREATE FUNCTION order_mgmt.run_due_shop(shop_id bigint, max_actions integer DEFAULT 1000)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'om_run_due_shop'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.run_due_shop(bigint, integer) IS
	'Performs one shop''s due deadlines, as run_due() does for all shops; returns how many; on Citus distributed by shop_id, so it runs on the shop''s worker (docs/citus.md)';

CREATE FUNCTION order_mgmt.events_since(shop_id bigint, after_event_id bigint, max integer DEFAULT 1000)
	RETURNS SETOF order_mgmt.order_event
	AS 'MODULE_PATHNAME', 'om_events_since'
	LANGUAGE C STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.events_since(bigint, bigint, integer) IS
	'The shop''s events after after_event_id (0 = from the start) in (xid, event_id) order, only of transactions below the snapshot''s xmin: a consumer that resumes from the last id it saw never skips one';

CREATE FUNCTION order_mgmt.register_consumer(shop_id bigint, consumer text, from_start boolean DEFAULT false)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'om_register_consumer'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.register_consumer(bigint, text, boolean) IS
	'Creates a named reader of the shop''s events for next_events, starting now or from the first event; false if it exists';

CREATE FUNCTION order_mgmt.next_events(shop_id bigint, consumer text, max integer DEFAULT 1000)
	RETURNS SETOF order_mgmt.order_event
	AS 'MODULE_PATHNAME', 'om_next_events'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.next_events(bigint, text, integer) IS
	'The consumer''s next events (snapshot batches, PgQ-style) and moves its position in this transaction: commit to acknowledge, roll back to get them again';

CREATE FUNCTION order_mgmt.drop_consumer(shop_id bigint, consumer text)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'om_drop_consumer'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.drop_consumer(bigint, text) IS
	'Forgets a consumer and its position; false if there was none';

CREATE FUNCTION order_mgmt.enable_notify(shop_id bigint)
	RETURNS text
	AS 'MODULE_PATHNAME', 'om_enable_notify'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.enable_notify(bigint) IS
	'Gives the shop a new random NOTIFY channel and returns it; disable with update_shop(shop_id, ''{"notify_channel": null}'')';

CREATE FUNCTION order_mgmt.rebase_events()
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_rebase_events'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.rebase_events() IS
	'After pg_restore into another cluster: moves every event and consumer to transaction 1 so that new events sort after them; returns how many events';

-- After checkout (SPEC §8, §9, §10)

CREATE FUNCTION order_mgmt.customer_cancel(shop_id bigint, order_id bigint, customer_id text,
		reason order_mgmt.cancel_reason DEFAULT 'changed_mind', note text DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_customer_cancel'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.customer_cancel(bigint, bigint, text, order_mgmt.cancel_reason, text) IS
	'A member cancels their own order (SPEC §8); OM006 with the first unmet condition in DETAIL';

CREATE FUNCTION order_mgmt.can_customer_cancel(shop_id bigint, order_id bigint, customer_id text,
		OUT allowed boolean, OUT reason text)
	AS 'MODULE_PATHNAME', 'om_can_customer_cancel'
	LANGUAGE C STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.can_customer_cancel(bigint, bigint, text) IS
	'Whether the customer may cancel the order now, and if not why, in words a shop''s UI can show';

CREATE FUNCTION order_mgmt.set_delivery_status(shop_id bigint, order_id bigint,
		status order_mgmt.delivery_status, carrier text DEFAULT NULL, tracking_no text DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_set_delivery_status'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.set_delivery_status(bigint, bigint, order_mgmt.delivery_status, text, text) IS
	'Moves the whole order''s delivery: lines not shipped yet go out in one package, the packages behind catch up; carrier and tracking_no go to the newest package';

CREATE FUNCTION order_mgmt.ship(shop_id bigint, order_id bigint, carrier text DEFAULT NULL,
		tracking_no text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_ship'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.ship(bigint, bigint, text, text) IS
	'Hands everything not shipped yet to the carrier in one package (shipped, or shipping for integrated and cod); commits its stock; returns the shipment_id';

CREATE FUNCTION order_mgmt.ship_package(shop_id bigint, order_id bigint, lines jsonb DEFAULT NULL,
		carrier text DEFAULT NULL, tracking_no text DEFAULT NULL, expected_delivery date DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_ship_package'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.ship_package(bigint, bigint, jsonb, text, text, date) IS
	'Ships one package of the order''s lines ([{"sku":"A","qty":1}]; NULL: all that is left) and commits their stock; partially_shipped while lines wait; returns the shipment_id';

CREATE FUNCTION order_mgmt.set_shipment_status(shop_id bigint, shipment_id bigint,
		status order_mgmt.delivery_status)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_set_shipment_status'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.set_shipment_status(bigint, bigint, order_mgmt.delivery_status) IS
	'Moves one package (shipping, shipped, arrived, collected); once every line has shipped the order''s delivery is its slowest package''s';

CREATE FUNCTION order_mgmt.set_tracking(shop_id bigint, shipment_id bigint, carrier text DEFAULT NULL,
		tracking_no text DEFAULT NULL, expected_delivery date DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_set_tracking'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.set_tracking(bigint, bigint, text, text, date) IS
	'Changes a package''s carrier, tracking number or expected delivery (NULL keeps it); a tracking event keeps the old and new values';

CREATE FUNCTION order_mgmt.complete(shop_id bigint, order_id bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_complete'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.complete(bigint, bigint) IS
	'Completes a paid order (or a collected cod order); earns reward points';

CREATE FUNCTION order_mgmt.archive(shop_id bigint, order_id bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_archive'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.archive(bigint, bigint) IS
	'Archives a completed or cancelled order (OM013 otherwise); it then refuses changes but notes';

CREATE FUNCTION order_mgmt.unarchive(shop_id bigint, order_id bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_unarchive'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.unarchive(bigint, bigint) IS 'Takes an order out of the archive';

CREATE FUNCTION order_mgmt.add_note(shop_id bigint, order_id bigint, kind order_mgmt.note_kind, body text)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_add_note'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.add_note(bigint, bigint, order_mgmt.note_kind, text) IS
	'Sets the admin, shipping or customer note, or records a support contact; also on archived orders';

CREATE FUNCTION order_mgmt.record_feedback(shop_id bigint, order_id bigint,
		reason order_mgmt.cancel_reason, comment text DEFAULT NULL, score integer DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_record_feedback'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.record_feedback(bigint, bigint, order_mgmt.cancel_reason, text, integer) IS
	'Records why a customer cancelled (seed 003): reason, comment, score 1-5; each call adds a feedback, the latest is the current one';

CREATE FUNCTION order_mgmt.create_rule(shop_id bigint, name text,
		payment_in order_mgmt.payment_status[], delivery_in order_mgmt.delivery_status[],
		delay interval)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_create_rule'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.create_rule(bigint, text, order_mgmt.payment_status[], order_mgmt.delivery_status[], interval) IS
	'An automation rule: orders whose statuses match complete delay after they first match';

CREATE FUNCTION order_mgmt.add_lines(shop_id bigint, order_id bigint, lines jsonb)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_add_lines'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.add_lines(bigint, bigint, jsonb) IS
	'Adds lines to a pending, unpaid order during its post-purchase hold, holding their stock (OM013 otherwise)';

CREATE FUNCTION order_mgmt.edit_order(shop_id bigint, order_id bigint, changes jsonb, reason text,
		expected_version bigint DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_edit_order'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.edit_order(bigint, bigint, jsonb, text, bigint) IS
	'Edits an order that has not shipped, atomically (issue 18): set_qty (0 removes a line), swap (another variant of the product), add, set_price (admin), promo (apply or remove); stock re-held, limits re-checked, totals and payment status re-derived, one edit event; returns the new lock_version (OM013 when expected_version is stale)';

-- Returns and exchanges (SPEC §11)

CREATE FUNCTION order_mgmt.request_return(shop_id bigint, order_id bigint, lines jsonb, reason text DEFAULT NULL,
		override boolean DEFAULT false, method order_mgmt.return_method DEFAULT NULL,
		carrier text DEFAULT NULL, tracking_no text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_request_return'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.request_return(bigint, bigint, jsonb, text, boolean, order_mgmt.return_method, text, text) IS
	'Asks to send shipped goods back, all or part ([{"sku":"A","qty":1}]), with the way back (method, carrier, tracking_no); OM012 beyond what shipped, or after the shop''s return_window unless an admin overrides; returns the return_id';

CREATE FUNCTION order_mgmt.request_exchange(shop_id bigint, order_id bigint, from_sku text, to_sku text,
		qty integer DEFAULT 1, override boolean DEFAULT false, method order_mgmt.return_method DEFAULT NULL,
		carrier text DEFAULT NULL, tracking_no text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_request_exchange'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.request_exchange(bigint, bigint, text, text, integer, boolean, order_mgmt.return_method, text, text) IS
	'Asks to swap shipped units of from_sku for to_sku, holding to_sku at once (OM001), with the way back; OM012 after the shop''s return_window unless an admin overrides; returns the return_id';

CREATE FUNCTION order_mgmt.set_return_tracking(shop_id bigint, return_id bigint, carrier text,
		tracking_no text, method order_mgmt.return_method DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_set_return_tracking'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.set_return_tracking(bigint, bigint, text, text, order_mgmt.return_method) IS
	'Records the way back of a requested or approved return (carrier, tracking number, method when given); a change writes a return event';

CREATE FUNCTION order_mgmt.approve_return(shop_id bigint, return_id bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_approve_return'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.approve_return(bigint, bigint) IS 'requested -> approved';

CREATE FUNCTION order_mgmt.reject_return(shop_id bigint, return_id bigint, note text DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_reject_return'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.reject_return(bigint, bigint, text) IS
	'requested -> rejected; an exchange gives its replacement''s stock back';

CREATE FUNCTION order_mgmt.cancel_return(shop_id bigint, return_id bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_cancel_return'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.cancel_return(bigint, bigint) IS
	'requested or approved -> cancelled; an exchange gives its replacement''s stock back';

CREATE FUNCTION order_mgmt.receive_return(shop_id bigint, return_id bigint, restock boolean DEFAULT true)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_receive_return'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.receive_return(bigint, bigint, boolean) IS
	'The goods are back: returned_qty grows, restocked units return to on_hand; a plain return is completed';

CREATE FUNCTION order_mgmt.ship_exchange(shop_id bigint, return_id bigint, carrier text DEFAULT NULL,
		tracking_no text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_ship_exchange'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.ship_exchange(bigint, bigint, text, text) IS
	'Ships an approved exchange''s replacement: commits its hold, completes the exchange; returns the shipment_id';

CREATE FUNCTION order_mgmt.credit_note(shop_id bigint, return_id bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_credit_note'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.credit_note(bigint, bigint) IS
	'Records that an invoice allowance / credit note is owed for a return';

-- Store credit (issue 17 item 11, seed 001): the merchant's grants and
-- adjustments, and the balance (src/store_credit.c).
CREATE FUNCTION order_mgmt.grant_store_credit(shop_id bigint, customer_id text, amount numeric,
		reason text)
	RETURNS numeric
	AS 'MODULE_PATHNAME', 'om_grant_store_credit'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.grant_store_credit(bigint, text, numeric, text) IS
	'Gives a customer store credit (amount > 0) with a reason; returns the new balance';

CREATE FUNCTION order_mgmt.adjust_store_credit(shop_id bigint, customer_id text, delta numeric,
		reason text)
	RETURNS numeric
	AS 'MODULE_PATHNAME', 'om_adjust_store_credit'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.adjust_store_credit(bigint, text, numeric, text) IS
	'Corrects a customer''s store credit by delta (either sign, never below 0: OM015) with a reason; returns the new balance';

CREATE FUNCTION order_mgmt.store_credit_balance(shop_id bigint, customer_id text)
	RETURNS numeric
	AS 'MODULE_PATHNAME', 'om_store_credit_balance'
	LANGUAGE C STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.store_credit_balance(bigint, text) IS
	'A customer''s store credit balance (0 when none); the movements are in store_credit_ledger';

-- Addresses and erasure (issue 18, src/address.c, src/erasure.c)

CREATE FUNCTION order_mgmt.set_address(shop_id bigint, order_id bigint, kind text, address jsonb)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'om_set_address'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.set_address(bigint, bigint, text, jsonb) IS
	'Sets the order''s shipping or billing address (NULL removes it) until it ships: a new version and an address event naming the fields that changed; unchanged, nothing happens; returns the current version (0: never set)';

CREATE FUNCTION order_mgmt.erase_customer(shop_id bigint, customer_id text)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'om_erase_customer'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.erase_customer(bigint, text) IS
	'GDPR erasure: blanks the customer''s name, e-mail and phone and the e-mails and addresses of their orders and of guest orders with their e-mail, keeping money, statuses, lines and events; an erasure event per order changed; returns how many orders changed (0 the second time)';

CREATE FUNCTION order_mgmt.erase_guest(shop_id bigint, email text)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'om_erase_guest'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.erase_guest(bigint, text) IS
	'GDPR erasure for a guest: blanks the e-mails and addresses of the guest orders (no customer_id) with this e-mail (normalize_email), as erase_customer does; returns how many orders changed';
