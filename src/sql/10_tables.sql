
-- Tables (SPEC §2).  shop_id leads every primary and foreign key, so the
-- layout can be distributed by shop (SPEC §18).

CREATE TABLE order_mgmt.shop (
	shop_id bigint PRIMARY KEY CHECK (shop_id > 0),
	name text NOT NULL CHECK (name <> ''),
	currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	locale text NOT NULL CHECK (locale <> ''),
	timezone text NOT NULL,
	payment_timeout interval NOT NULL DEFAULT '30 minutes' CHECK (payment_timeout > '0'),
	auto_cancel_failed boolean NOT NULL DEFAULT false,
	auto_cancel_delay interval NOT NULL DEFAULT '0' CHECK (auto_cancel_delay >= '0'),
	allow_customer_cancel boolean NOT NULL DEFAULT true,
	auto_archive_after interval CHECK (auto_archive_after >= '0'),
	reward_rate numeric NOT NULL DEFAULT 0 CHECK (reward_rate >= 0),
	high_value_threshold numeric CHECK (high_value_threshold >= 0),
	followup_window interval NOT NULL DEFAULT '3 days' CHECK (followup_window >= '0'),
	stock_buckets integer NOT NULL DEFAULT 1 CHECK (stock_buckets BETWEEN 1 AND 64),
	admission_queue boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	notify_channel text CHECK (notify_channel ~ '^[a-z_][a-z0-9_]{0,62}$'),
	payment_timeouts jsonb NOT NULL DEFAULT '{"cod": null}' CHECK (pg_catalog.jsonb_typeof(payment_timeouts) = 'object'),
	cod_paid_on_collect boolean NOT NULL DEFAULT true,
	return_window interval CHECK (return_window >= '0'),
	reward_unit order_mgmt.reward_unit NOT NULL DEFAULT 'points',
	app_sets_prices boolean NOT NULL DEFAULT false,
	auto_buckets_max integer NOT NULL DEFAULT 16 CHECK (auto_buckets_max BETWEEN 1 AND 64)
);
COMMENT ON TABLE order_mgmt.shop IS 'A shop (tenant) and its settings; create with create_shop, change with update_shop';
COMMENT ON COLUMN order_mgmt.shop.shop_id IS 'Tenant key; leads every key in the schema';
COMMENT ON COLUMN order_mgmt.shop.name IS 'Display name';
COMMENT ON COLUMN order_mgmt.shop.currency IS 'ISO 4217 code of the shop currency; every order is in it';
COMMENT ON COLUMN order_mgmt.shop.locale IS 'BCP 47 locale for labels and money formatting (zh-TW, th-TH, fi-FI, en-US ...)';
COMMENT ON COLUMN order_mgmt.shop.timezone IS 'IANA time zone; reports cut days in it';
COMMENT ON COLUMN order_mgmt.shop.payment_timeout IS 'An order still unpaid or pending this long after checkout becomes failed';
COMMENT ON COLUMN order_mgmt.shop.auto_cancel_failed IS 'Cancel failed orders automatically (releasing stock and promo)';
COMMENT ON COLUMN order_mgmt.shop.auto_cancel_delay IS 'How long after failing an order is auto-cancelled';
COMMENT ON COLUMN order_mgmt.shop.allow_customer_cancel IS 'Whether members may cancel their own orders (SPEC §8)';
COMMENT ON COLUMN order_mgmt.shop.auto_archive_after IS 'Archive completed and cancelled orders this long afterwards; NULL = never';
COMMENT ON COLUMN order_mgmt.shop.reward_rate IS 'Reward points per currency unit paid on completion; 0 = off';
COMMENT ON COLUMN order_mgmt.shop.high_value_threshold IS 'Order total from which follow-ups go by phone; NULL = none';
COMMENT ON COLUMN order_mgmt.shop.followup_window IS 'Unpaid orders younger than this are followed up by SMS';
COMMENT ON COLUMN order_mgmt.shop.stock_buckets IS 'Default number of stock rows a SKU''s stock is split over (SPEC §4.4)';
COMMENT ON COLUMN order_mgmt.shop.admission_queue IS 'Default for queueing checkouts of a SKU, per bucket, on a lock no SQL role can take, before the stock row (SPEC §4.4)';
COMMENT ON COLUMN order_mgmt.shop.created_at IS 'When the shop was created (order_mgmt.now())';
COMMENT ON COLUMN order_mgmt.shop.updated_at IS 'When the shop was last changed (order_mgmt.now())';
COMMENT ON COLUMN order_mgmt.shop.notify_channel IS 'NOTIFY channel woken (empty payload) after a commit that wrote this shop''s events; NULL = none; set with enable_notify()';
COMMENT ON COLUMN order_mgmt.shop.payment_timeouts IS 'Payment timeout per payment method, overriding payment_timeout: {"method": interval or null (no deadline)}; a cod order is method cod (SPEC §6)';
COMMENT ON COLUMN order_mgmt.shop.app_sets_prices IS 'edit_order''s set_price (改價) is open to order_mgmt_app too, not only to order_mgmt_admin (issue 18)';
COMMENT ON COLUMN order_mgmt.shop.reward_unit IS 'What rewards are paid in (seed 001): points (reward_rate points per currency unit) or store_credit (reward_rate credit per currency unit, rounded to the currency, e.g. 0.05 = 5% back)';
COMMENT ON COLUMN order_mgmt.shop.cod_paid_on_collect IS 'A cod order collected by its customer is paid: the carrier''s payment of what is left to pay is recorded (SPEC §6); false when the shop records COD remittances itself';
COMMENT ON COLUMN order_mgmt.shop.auto_buckets_max IS 'The most stock buckets balance_buckets() spreads a hot SKU over when neither the SKU nor the shop sets stock_buckets (issue 21); 1 = no automatic spreading';
COMMENT ON COLUMN order_mgmt.shop.return_window IS 'How long after delivery (orders.delivered_at) a return may be requested; later requests need the merchant''s override (OM012), and automation completes an order only once it has passed (SPEC §11); NULL = no window';

CREATE TABLE order_mgmt.sku (
	shop_id bigint NOT NULL REFERENCES order_mgmt.shop,
	sku text NOT NULL,
	product_id text,
	title text,
	price numeric NOT NULL CHECK (price >= 0 AND price <> 'NaN'),
	attrs jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attrs) = 'object'),
	digital boolean NOT NULL DEFAULT false,
	allow_backorder boolean NOT NULL DEFAULT false,
	stock_buckets integer CHECK (stock_buckets BETWEEN 1 AND 64),
	admission_queue boolean,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	auto_buckets integer CHECK (auto_buckets BETWEEN 2 AND 64),
	PRIMARY KEY (shop_id, sku)
);
CREATE INDEX ON order_mgmt.sku (shop_id, product_id);
CREATE INDEX sku_auto_buckets ON order_mgmt.sku (shop_id, sku) WHERE auto_buckets IS NOT NULL;
COMMENT ON TABLE order_mgmt.sku IS 'Sellable items (stock keeping units); create or change with upsert_sku';
COMMENT ON COLUMN order_mgmt.sku.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.sku.sku IS 'The shop''s SKU code';
COMMENT ON COLUMN order_mgmt.sku.product_id IS 'Product the SKU is a variant of (reports group by it)';
COMMENT ON COLUMN order_mgmt.sku.title IS 'Display title';
COMMENT ON COLUMN order_mgmt.sku.price IS 'Unit price in the shop currency';
COMMENT ON COLUMN order_mgmt.sku.attrs IS 'Variant attributes, e.g. {"color":"red","size":"M"}';
COMMENT ON COLUMN order_mgmt.sku.digital IS 'Digital goods: no stock tracking unless a stock row exists; fulfilled when paid';
COMMENT ON COLUMN order_mgmt.sku.allow_backorder IS 'May be sold beyond on_hand (reserved > on_hand allowed)';
COMMENT ON COLUMN order_mgmt.sku.stock_buckets IS 'Stock rows to split this SKU over; NULL = the shop''s setting';
COMMENT ON COLUMN order_mgmt.sku.admission_queue IS 'Per-SKU admission queue; NULL = the shop''s setting';
COMMENT ON COLUMN order_mgmt.sku.created_at IS 'When the SKU was created';
COMMENT ON COLUMN order_mgmt.sku.updated_at IS 'When the SKU was last changed';
COMMENT ON COLUMN order_mgmt.sku.auto_buckets IS 'The buckets balance_buckets() spread this hot SKU over (issue 21), used while stock_buckets here is NULL and the shop''s is 1; NULL = not spread (1 bucket)';
COMMENT ON INDEX order_mgmt.sku_auto_buckets IS 'The SKUs spread automatically, for balance_buckets() to look at without reading every SKU';

CREATE TABLE order_mgmt.stock (
	shop_id bigint NOT NULL,
	sku text NOT NULL,
	bucket integer NOT NULL DEFAULT 0 CHECK (bucket >= 0),
	on_hand integer NOT NULL DEFAULT 0,
	reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
	backorder boolean NOT NULL DEFAULT false,
	PRIMARY KEY (shop_id, sku, bucket),
	FOREIGN KEY (shop_id, sku) REFERENCES order_mgmt.sku,
	CONSTRAINT stock_never_oversold CHECK (backorder OR (on_hand >= 0 AND reserved <= on_hand))
);
COMMENT ON TABLE order_mgmt.stock IS 'Physical and reserved stock per SKU, split over buckets for hot SKUs; available = on_hand - reserved';
COMMENT ON COLUMN order_mgmt.stock.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.stock.sku IS 'The SKU';
COMMENT ON COLUMN order_mgmt.stock.bucket IS 'Bucket number, 0 .. stock_buckets - 1 (SPEC §4.4)';
COMMENT ON COLUMN order_mgmt.stock.on_hand IS 'Units physically in stock in this bucket';
COMMENT ON COLUMN order_mgmt.stock.reserved IS 'Units held by orders: the sum of held reservations of this bucket';
COMMENT ON COLUMN order_mgmt.stock.backorder IS 'Copy of sku.allow_backorder, so the never-oversell CHECK can see it';

CREATE TABLE order_mgmt.stock_log (
	shop_id bigint NOT NULL,
	entry_id bigint GENERATED ALWAYS AS IDENTITY,
	sku text NOT NULL,
	delta integer NOT NULL,
	on_hand integer NOT NULL,
	note text,
	actor text NOT NULL,
	at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, entry_id),
	FOREIGN KEY (shop_id, sku) REFERENCES order_mgmt.sku
);
COMMENT ON TABLE order_mgmt.stock_log IS 'Every change of physical stock by set_stock and adjust_stock, and every automatic change of a SKU''s bucket count by balance_buckets (delta 0)';
COMMENT ON COLUMN order_mgmt.stock_log.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.stock_log.entry_id IS 'Log entry id';
COMMENT ON COLUMN order_mgmt.stock_log.sku IS 'The SKU';
COMMENT ON COLUMN order_mgmt.stock_log.delta IS 'Change of on_hand over all buckets';
COMMENT ON COLUMN order_mgmt.stock_log.on_hand IS 'on_hand over all buckets after the change';
COMMENT ON COLUMN order_mgmt.stock_log.note IS 'Why (adjust_stock''s note)';
COMMENT ON COLUMN order_mgmt.stock_log.actor IS 'Role that made the change';
COMMENT ON COLUMN order_mgmt.stock_log.at IS 'When (order_mgmt.now())';

CREATE UNLOGGED TABLE order_mgmt.sku_heat (
	shop_id bigint NOT NULL,
	sku text NOT NULL,
	slot integer NOT NULL,
	contended bigint NOT NULL DEFAULT 0 CHECK (contended >= 0),
	holds bigint NOT NULL DEFAULT 0 CHECK (holds >= 0),
	since timestamptz NOT NULL,
	PRIMARY KEY (shop_id, sku, slot)
);
COMMENT ON TABLE order_mgmt.sku_heat IS 'How contended the SKUs of a shop with automatic buckets are (issue 21): each session sums its holds in memory and adds them here once per order_mgmt.hot_flush_every of them; balance_buckets() reads and resets it.  Unlogged: a crash empties it, which only restarts the measuring';
COMMENT ON COLUMN order_mgmt.sku_heat.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.sku_heat.sku IS 'The SKU';
COMMENT ON COLUMN order_mgmt.sku_heat.slot IS 'The session''s backend number (1 and up: no two live sessions share a row, so sessions never wait for each other here); 0 = the window''s start, written by balance_buckets()';
COMMENT ON COLUMN order_mgmt.sku_heat.contended IS 'Holds that found every bucket of the SKU with enough units locked by other transactions, so had to wait';
COMMENT ON COLUMN order_mgmt.sku_heat.holds IS 'Holds of the SKU while it is spread over automatic buckets (merging back looks at them)';
COMMENT ON COLUMN order_mgmt.sku_heat.since IS 'When the session began counting (order_mgmt.now()), or the window began (slot 0); a window runs from its slot 0 row''s since, else from the earliest since of the SKU''s rows';

CREATE TABLE order_mgmt.customer (
	shop_id bigint NOT NULL REFERENCES order_mgmt.shop,
	customer_id text NOT NULL,
	email text,
	email_key text,
	is_member boolean NOT NULL DEFAULT true,
	phone text,
	name text,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, customer_id)
);
CREATE INDEX ON order_mgmt.customer (shop_id, email_key);
COMMENT ON TABLE order_mgmt.customer IS 'A shop''s customers; create or change with upsert_customer';
COMMENT ON COLUMN order_mgmt.customer.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.customer.customer_id IS 'The shop''s customer id';
COMMENT ON COLUMN order_mgmt.customer.email IS 'E-mail address as entered';
COMMENT ON COLUMN order_mgmt.customer.email_key IS 'normalize_email(email): matches guest orders and guest promo limits';
COMMENT ON COLUMN order_mgmt.customer.is_member IS 'Registered member (may self-cancel, SPEC §8)';
COMMENT ON COLUMN order_mgmt.customer.phone IS 'Phone number';
COMMENT ON COLUMN order_mgmt.customer.name IS 'Display name';
COMMENT ON COLUMN order_mgmt.customer.created_at IS 'When the customer was created';
COMMENT ON COLUMN order_mgmt.customer.updated_at IS 'When the customer was last changed';

CREATE SEQUENCE order_mgmt.order_id_seq;
COMMENT ON SEQUENCE order_mgmt.order_id_seq IS 'order_id values, unique over all shops';

CREATE TABLE order_mgmt.orders (
	shop_id bigint NOT NULL,
	order_id bigint NOT NULL DEFAULT nextval('order_mgmt.order_id_seq'),
	order_no text NOT NULL,
	customer_id text,
	email text,
	email_key text,
	channel text NOT NULL DEFAULT 'online',
	logistics order_mgmt.logistics_kind NOT NULL DEFAULT 'standard',
	payment_method text,
	status order_mgmt.order_status NOT NULL DEFAULT 'pending',
	payment_status order_mgmt.payment_status NOT NULL DEFAULT 'unpaid',
	delivery_status order_mgmt.delivery_status NOT NULL,
	currency text NOT NULL,
	subtotal numeric NOT NULL DEFAULT 0 CHECK (subtotal >= 0),
	discount numeric NOT NULL DEFAULT 0 CHECK (discount >= 0),
	shipping_fee numeric NOT NULL DEFAULT 0 CHECK (shipping_fee >= 0),
	total numeric NOT NULL DEFAULT 0 CHECK (total >= 0),
	paid_amount numeric NOT NULL DEFAULT 0 CHECK (paid_amount >= 0),
	refunded_amount numeric NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= paid_amount),
	promo_code text,
	promo_key text,
	payment_due_at timestamptz,
	hold_until timestamptz,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	paid_at timestamptz,
	shipped_at timestamptz,
	completed_at timestamptz,
	cancelled_at timestamptz,
	cancel_source order_mgmt.cancel_source,
	cancel_reason order_mgmt.cancel_reason,
	cancel_note text,
	archived_at timestamptz,
	admin_note text,
	shipping_note text,
	customer_note text,
	consulted_support boolean NOT NULL DEFAULT false,
	idempotency_key text,
	reactivated_at timestamptz,
	lock_version bigint NOT NULL DEFAULT 0,
	delivered_at timestamptz,
	credit_applied numeric NOT NULL DEFAULT 0 CHECK (credit_applied >= 0 AND credit_applied <= total),
	PRIMARY KEY (shop_id, order_id),
	UNIQUE (shop_id, order_no)
);
CREATE UNIQUE INDEX orders_idempotency_key ON order_mgmt.orders (shop_id, idempotency_key)
	WHERE idempotency_key IS NOT NULL;
-- the reports' scan by shop-local day: covering, so they read the index only
-- (order_id too: report_recovery joins the range's orders to their events)
CREATE INDEX orders_created ON order_mgmt.orders (shop_id, created_at)
	INCLUDE (total, status, payment_status, delivery_status, paid_amount, refunded_amount,
			 paid_at, consulted_support, order_id);
-- payment deadlines (issue 21): the orders run_due() times out, earliest
-- first; an order leaves it when it is paid, failed, cancelled or
-- reactivated (the merchant's then)
CREATE INDEX orders_payment_due ON order_mgmt.orders (payment_due_at)
	WHERE payment_due_at IS NOT NULL AND status IN ('pending', 'confirmed')
	  AND payment_status IN ('unpaid', 'pending');
COMMENT ON INDEX order_mgmt.orders_payment_due IS 'Payment deadlines: the orders awaiting payment by payment_due_at, which run_due() times out (a failing timeout backs off as a due_action row)';
COMMENT ON TABLE order_mgmt.orders IS 'Orders: three status machines guarded by C triggers on every path; never deleted';
COMMENT ON COLUMN order_mgmt.orders.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.orders.order_id IS 'Order id (from order_id_seq); immutable';
COMMENT ON COLUMN order_mgmt.orders.order_no IS 'Order number shown to customers, unique per shop (defaults to the order_id)';
COMMENT ON COLUMN order_mgmt.orders.customer_id IS 'Ordering customer; NULL for a guest order';
COMMENT ON COLUMN order_mgmt.orders.email IS 'Contact e-mail as entered';
COMMENT ON COLUMN order_mgmt.orders.email_key IS 'normalize_email(email), set by the guard trigger';
COMMENT ON COLUMN order_mgmt.orders.channel IS 'Sales channel (online, pos, chat ...)';
COMMENT ON COLUMN order_mgmt.orders.logistics IS 'Logistics kind; decides the first delivery status';
COMMENT ON COLUMN order_mgmt.orders.payment_method IS 'Payment method chosen (credit_card, bank_transfer, cod ...)';
COMMENT ON COLUMN order_mgmt.orders.status IS 'Order status (SPEC §3.1)';
COMMENT ON COLUMN order_mgmt.orders.payment_status IS 'Payment status (SPEC §3.2)';
COMMENT ON COLUMN order_mgmt.orders.delivery_status IS 'Delivery status (SPEC §3.3)';
COMMENT ON COLUMN order_mgmt.orders.currency IS 'ISO 4217 currency of the amounts (the shop''s)';
COMMENT ON COLUMN order_mgmt.orders.subtotal IS 'Sum of line amounts before discount';
COMMENT ON COLUMN order_mgmt.orders.discount IS 'Promo discount';
COMMENT ON COLUMN order_mgmt.orders.shipping_fee IS 'Shipping fee charged';
COMMENT ON COLUMN order_mgmt.orders.total IS 'subtotal - discount + shipping_fee';
COMMENT ON COLUMN order_mgmt.orders.paid_amount IS 'Money received (succeeded charges)';
COMMENT ON COLUMN order_mgmt.orders.refunded_amount IS 'Money returned (succeeded refunds); never above paid_amount';
COMMENT ON COLUMN order_mgmt.orders.promo_code IS 'Promo code as entered';
COMMENT ON COLUMN order_mgmt.orders.promo_key IS 'normalize_code(promo_code): key of the promo_code row';
COMMENT ON COLUMN order_mgmt.orders.payment_due_at IS 'Payment deadline; NULL once paid or when the merchant owns the order';
COMMENT ON COLUMN order_mgmt.orders.hold_until IS 'End of the post-purchase hold: until then delivery may not move (SPEC §9)';
COMMENT ON COLUMN order_mgmt.orders.created_at IS 'Checkout time (order_mgmt.now())';
COMMENT ON COLUMN order_mgmt.orders.updated_at IS 'Last change (set by the guard trigger)';
COMMENT ON COLUMN order_mgmt.orders.paid_at IS 'When payment first became paid';
COMMENT ON COLUMN order_mgmt.orders.shipped_at IS 'When delivery first left the pre-shipment set';
COMMENT ON COLUMN order_mgmt.orders.completed_at IS 'When the order was completed';
COMMENT ON COLUMN order_mgmt.orders.cancelled_at IS 'When the order was cancelled; NULL unless status is cancelled';
COMMENT ON COLUMN order_mgmt.orders.cancel_source IS 'Who cancelled it; NULL unless cancelled';
COMMENT ON COLUMN order_mgmt.orders.cancel_reason IS 'Why it was cancelled; NULL unless cancelled';
COMMENT ON COLUMN order_mgmt.orders.cancel_note IS 'Free-text note given with the cancellation';
COMMENT ON COLUMN order_mgmt.orders.archived_at IS 'When archived; an archived order refuses changes but notes and unarchive';
COMMENT ON COLUMN order_mgmt.orders.admin_note IS 'Merchant''s internal note';
COMMENT ON COLUMN order_mgmt.orders.shipping_note IS 'Note for the shipment';
COMMENT ON COLUMN order_mgmt.orders.customer_note IS 'Note left by the customer';
COMMENT ON COLUMN order_mgmt.orders.consulted_support IS 'The customer talked to support about this order (lost-order report split)';
COMMENT ON COLUMN order_mgmt.orders.idempotency_key IS 'Caller''s key: a checkout retried with it returns this order';
COMMENT ON COLUMN order_mgmt.orders.lock_version IS 'Optimistic-concurrency counter: every UPDATE adds one; a write carrying another value than the one read (or that plus one) is refused as stale (OM013)';
COMMENT ON COLUMN order_mgmt.orders.delivered_at IS 'When delivery first reached arrived or collected: the shop''s return_window counts from it';
COMMENT ON COLUMN order_mgmt.orders.credit_applied IS 'Store credit spent on the order at checkout (a tender): the money to pay is total - credit_applied';
COMMENT ON COLUMN order_mgmt.orders.reactivated_at IS 'Last reactivation: from then on the merchant owns the order (no payment deadline, no auto-cancel)';

CREATE TABLE order_mgmt.order_line (
	shop_id bigint NOT NULL,
	order_id bigint NOT NULL,
	line_no integer NOT NULL CHECK (line_no > 0),
	sku text NOT NULL,
	qty integer NOT NULL CHECK (qty >= 0),
	unit_price numeric NOT NULL CHECK (unit_price >= 0),
	discount numeric NOT NULL DEFAULT 0 CHECK (discount >= 0),
	returned_qty integer NOT NULL DEFAULT 0 CHECK (returned_qty >= 0 AND returned_qty <= qty),
	ordered_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, order_id, line_no)
);
COMMENT ON TABLE order_mgmt.order_line IS 'Lines of an order; never deleted';
COMMENT ON COLUMN order_mgmt.order_line.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.order_line.order_id IS 'The order';
COMMENT ON COLUMN order_mgmt.order_line.line_no IS 'Line number within the order, from 1';
COMMENT ON COLUMN order_mgmt.order_line.sku IS 'The SKU bought';
COMMENT ON COLUMN order_mgmt.order_line.qty IS 'Units bought; 0 when edit_order removed the line (lines are never deleted)';
COMMENT ON COLUMN order_mgmt.order_line.unit_price IS 'Price per unit at checkout, or as edit_order set it';
COMMENT ON COLUMN order_mgmt.order_line.discount IS 'Share of the order discount on this line';
COMMENT ON COLUMN order_mgmt.order_line.returned_qty IS 'Units returned; never above qty';
COMMENT ON COLUMN order_mgmt.order_line.ordered_at IS 'Creation time of the order (a copy of orders.created_at, filled when omitted), so the variant-mix report reads lines by SKU and time from one index';

CREATE SEQUENCE order_mgmt.reservation_id_seq;
COMMENT ON SEQUENCE order_mgmt.reservation_id_seq IS 'reservation_id values';

CREATE TABLE order_mgmt.reservation (
	shop_id bigint NOT NULL,
	reservation_id bigint NOT NULL DEFAULT nextval('order_mgmt.reservation_id_seq'),
	order_id bigint NOT NULL,
	return_id bigint,
	sku text NOT NULL,
	bucket integer NOT NULL DEFAULT 0,
	qty integer NOT NULL CHECK (qty > 0),
	state order_mgmt.reservation_state NOT NULL DEFAULT 'held',
	created_at timestamptz NOT NULL,
	resolved_at timestamptz,
	PRIMARY KEY (shop_id, reservation_id)
);
CREATE INDEX reservation_order ON order_mgmt.reservation (shop_id, order_id);
-- No index by SKU and bucket of the held rows (issue 21): every reader finds
-- an order's reservations by order_id; verify() reads them all in one pass.
-- Without state in an index, releasing or fulfilling a reservation can be a
-- HOT update.
COMMENT ON TABLE order_mgmt.reservation IS 'Stock ledger: each hold of stock by an order; held rows sum to stock.reserved';
COMMENT ON COLUMN order_mgmt.reservation.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.reservation.reservation_id IS 'Reservation id';
COMMENT ON COLUMN order_mgmt.reservation.order_id IS 'The holding order';
COMMENT ON COLUMN order_mgmt.reservation.return_id IS 'Set for an exchange''s replacement (SPEC §11)';
COMMENT ON COLUMN order_mgmt.reservation.sku IS 'The SKU held';
COMMENT ON COLUMN order_mgmt.reservation.bucket IS 'Stock bucket the units were taken from';
COMMENT ON COLUMN order_mgmt.reservation.qty IS 'Units held';
COMMENT ON COLUMN order_mgmt.reservation.state IS 'held, fulfilled (left stock at shipment) or released (back to available)';
COMMENT ON COLUMN order_mgmt.reservation.created_at IS 'When the stock was held';
COMMENT ON COLUMN order_mgmt.reservation.resolved_at IS 'When it was fulfilled or released';

CREATE TABLE order_mgmt.promo_code (
	shop_id bigint NOT NULL REFERENCES order_mgmt.shop,
	code_key text NOT NULL CHECK (code_key <> ''),
	code text NOT NULL,
	kind order_mgmt.promo_kind NOT NULL,
	value numeric NOT NULL CHECK (value >= 0),
	min_subtotal numeric NOT NULL DEFAULT 0 CHECK (min_subtotal >= 0),
	usage_limit integer CHECK (usage_limit > 0),
	per_customer_limit integer CHECK (per_customer_limit > 0),
	customer_id text,
	used integer NOT NULL DEFAULT 0 CHECK (used >= 0),
	starts_at timestamptz,
	ends_at timestamptz,
	active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL,
	email_key text,
	scope_products text[] CHECK (pg_catalog.cardinality(scope_products) > 0),
	scope_skus text[] CHECK (pg_catalog.cardinality(scope_skus) > 0),
	PRIMARY KEY (shop_id, code_key),
	FOREIGN KEY (shop_id, customer_id) REFERENCES order_mgmt.customer,
	CONSTRAINT promo_never_over_redeemed CHECK (usage_limit IS NULL OR used <= usage_limit),
	CHECK (kind <> 'percent' OR value <= 100),
	CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at)
);
COMMENT ON TABLE order_mgmt.promo_code IS 'Promo codes, keyed by normalize_code(code)';
COMMENT ON COLUMN order_mgmt.promo_code.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.promo_code.code_key IS 'normalize_code(code): what checkouts match on';
COMMENT ON COLUMN order_mgmt.promo_code.code IS 'The code as the merchant entered it';
COMMENT ON COLUMN order_mgmt.promo_code.kind IS 'percent, amount or free_shipping';
COMMENT ON COLUMN order_mgmt.promo_code.value IS 'Percent (0-100) or amount in the shop currency';
COMMENT ON COLUMN order_mgmt.promo_code.min_subtotal IS 'Smallest subtotal the code applies to';
COMMENT ON COLUMN order_mgmt.promo_code.usage_limit IS 'Live redemptions allowed in all; NULL = unlimited';
COMMENT ON COLUMN order_mgmt.promo_code.per_customer_limit IS 'Live redemptions allowed per customer (or guest e-mail); NULL = unlimited';
COMMENT ON COLUMN order_mgmt.promo_code.customer_id IS 'Personal code: only this customer may use it';
COMMENT ON COLUMN order_mgmt.promo_code.used IS 'Active redemptions, kept exact for codes with a usage_limit';
COMMENT ON COLUMN order_mgmt.promo_code.starts_at IS 'Valid from; NULL = at once';
COMMENT ON COLUMN order_mgmt.promo_code.ends_at IS 'Valid until (exclusive); NULL = forever';
COMMENT ON COLUMN order_mgmt.promo_code.active IS 'Switched on';
COMMENT ON COLUMN order_mgmt.promo_code.created_at IS 'When the code was created';
COMMENT ON COLUMN order_mgmt.promo_code.email_key IS 'Personal code of a guest order''s e-mail (normalize_email): only orders with this e-mail may use it (win-back, seed 003)';
COMMENT ON COLUMN order_mgmt.promo_code.scope_products IS 'Products (sku.product_id) the code applies to; with scope_skus NULL too, the whole order';
COMMENT ON COLUMN order_mgmt.promo_code.scope_skus IS 'SKUs the code applies to (besides those of scope_products); with scope_products NULL too, the whole order';

CREATE TABLE order_mgmt.promo_redemption (
	shop_id bigint NOT NULL,
	code_key text NOT NULL,
	order_id bigint NOT NULL,
	customer_id text,
	email_key text,
	state order_mgmt.redemption_state NOT NULL DEFAULT 'active',
	limited boolean NOT NULL DEFAULT false,
	who text,
	claimed_at timestamptz NOT NULL,
	released_at timestamptz,
	PRIMARY KEY (shop_id, code_key, order_id)
);
CREATE INDEX promo_redemption_order ON order_mgmt.promo_redemption (shop_id, order_id);

CREATE TABLE order_mgmt.promo_customer_use (
	shop_id bigint NOT NULL,
	code_key text NOT NULL,
	who text NOT NULL,
	used integer NOT NULL CHECK (used >= 0),
	PRIMARY KEY (shop_id, code_key, who)
);
COMMENT ON TABLE order_mgmt.promo_customer_use IS 'Live claims of a code per customer (or guest e-mail): the row a per-customer limit is enforced on';
COMMENT ON COLUMN order_mgmt.promo_customer_use.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.promo_customer_use.code_key IS 'The code';
COMMENT ON COLUMN order_mgmt.promo_customer_use.who IS 'customer:<customer_id>, or email:<normalized e-mail> for guests';
COMMENT ON COLUMN order_mgmt.promo_customer_use.used IS 'Active redemptions by this customer';
COMMENT ON TABLE order_mgmt.promo_redemption IS 'Promo ledger: one row per order that claimed a code';
COMMENT ON COLUMN order_mgmt.promo_redemption.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.promo_redemption.code_key IS 'The code';
COMMENT ON COLUMN order_mgmt.promo_redemption.order_id IS 'The order that claimed it';
COMMENT ON COLUMN order_mgmt.promo_redemption.customer_id IS 'Customer, for per-customer limits';
COMMENT ON COLUMN order_mgmt.promo_redemption.email_key IS 'Normalized e-mail, for per-customer limits of guests';
COMMENT ON COLUMN order_mgmt.promo_redemption.state IS 'active (counts against limits) or released (order cancelled)';
COMMENT ON COLUMN order_mgmt.promo_redemption.limited IS 'The claim counts in promo_code.used (the code had a usage_limit when claimed)';
COMMENT ON COLUMN order_mgmt.promo_redemption.who IS 'The promo_customer_use key it counts under (customer:<id> or email:<key>), if the code had a per-customer limit';
COMMENT ON COLUMN order_mgmt.promo_redemption.claimed_at IS 'When claimed';
COMMENT ON COLUMN order_mgmt.promo_redemption.released_at IS 'When released';

CREATE SEQUENCE order_mgmt.payment_id_seq;
COMMENT ON SEQUENCE order_mgmt.payment_id_seq IS 'payment_id values';

CREATE TABLE order_mgmt.payment (
	shop_id bigint NOT NULL,
	payment_id bigint NOT NULL DEFAULT nextval('order_mgmt.payment_id_seq'),
	order_id bigint NOT NULL,
	kind order_mgmt.payment_kind NOT NULL,
	method text,
	amount numeric NOT NULL CHECK (amount >= 0),
	status order_mgmt.payment_result NOT NULL,
	provider_ref text,
	failure_reason text,
	created_at timestamptz NOT NULL,
	refund_method order_mgmt.refund_method
		CONSTRAINT payment_refund_method_check CHECK (refund_method IS NULL OR kind = 'refund'),
	PRIMARY KEY (shop_id, payment_id),
	UNIQUE (shop_id, provider_ref)
);
CREATE INDEX payment_order ON order_mgmt.payment (shop_id, order_id);
COMMENT ON TABLE order_mgmt.payment IS 'Every charge and refund attempt; never deleted';
COMMENT ON COLUMN order_mgmt.payment.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.payment.payment_id IS 'Payment id';
COMMENT ON COLUMN order_mgmt.payment.order_id IS 'The order paid for';
COMMENT ON COLUMN order_mgmt.payment.kind IS 'charge or refund';
COMMENT ON COLUMN order_mgmt.payment.method IS 'Payment method';
COMMENT ON COLUMN order_mgmt.payment.amount IS 'Amount in the order currency';
COMMENT ON COLUMN order_mgmt.payment.status IS 'pending, succeeded or failed';
COMMENT ON COLUMN order_mgmt.payment.provider_ref IS 'Payment provider''s reference, unique per shop: makes callbacks idempotent';
COMMENT ON COLUMN order_mgmt.payment.failure_reason IS 'Why it failed';
COMMENT ON COLUMN order_mgmt.payment.created_at IS 'When recorded';
COMMENT ON COLUMN order_mgmt.payment.refund_method IS 'How a refund reached the customer (card, bank_transfer, store_credit, cash, other); NULL for charges and when not given';

CREATE SEQUENCE order_mgmt.event_id_seq;
COMMENT ON SEQUENCE order_mgmt.event_id_seq IS 'event_id values: unique; with CACHE 1 (the default) a later commit on an order has higher ids';

CREATE TABLE order_mgmt.order_event (
	shop_id bigint NOT NULL,
	event_id bigint NOT NULL DEFAULT nextval('order_mgmt.event_id_seq'),
	order_id bigint NOT NULL,
	at timestamptz NOT NULL,
	actor text NOT NULL,
	kind order_mgmt.event_kind NOT NULL,
	from_value text,
	to_value text,
	detail jsonb,
	xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
	PRIMARY KEY (shop_id, event_id)
);
CREATE INDEX order_event_order ON order_mgmt.order_event (shop_id, order_id, event_id);
CREATE INDEX order_event_outbox ON order_mgmt.order_event (shop_id, xid, event_id);
COMMENT ON TABLE order_mgmt.order_event IS 'Append-only audit log and outbox: one row per transition and per side effect';
COMMENT ON COLUMN order_mgmt.order_event.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.order_event.event_id IS 'Event id, increasing';
COMMENT ON COLUMN order_mgmt.order_event.order_id IS 'The order';
COMMENT ON COLUMN order_mgmt.order_event.at IS 'When (order_mgmt.now())';
COMMENT ON COLUMN order_mgmt.order_event.actor IS 'Calling role as the caller sees it (SET ROLE role, else session user), or system for the sweeper';
COMMENT ON COLUMN order_mgmt.order_event.kind IS 'Status machine of a transition, or the side effect';
COMMENT ON COLUMN order_mgmt.order_event.from_value IS 'Status before a transition';
COMMENT ON COLUMN order_mgmt.order_event.to_value IS 'Status after a transition';
COMMENT ON COLUMN order_mgmt.order_event.detail IS 'Details (lines and holds of a checkout, amounts, reasons)';
COMMENT ON COLUMN order_mgmt.order_event.xid IS 'The writing transaction (pg_current_xact_id()): consumers read by it below a snapshot''s horizon (SPEC §12)';
COMMENT ON INDEX order_mgmt.order_event_outbox IS 'The outbox read by events_since and next_events';

CREATE TABLE order_mgmt.event_consumer (
	shop_id bigint NOT NULL REFERENCES order_mgmt.shop,
	consumer text NOT NULL CHECK (consumer <> '' AND length(consumer) <= 200),
	snapshot pg_snapshot NOT NULL,
	batch_snapshot pg_snapshot,
	batch_after bigint,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, consumer),
	CHECK ((batch_snapshot IS NULL) = (batch_after IS NULL))
);
COMMENT ON TABLE order_mgmt.event_consumer IS 'Named readers of a shop''s events and their position (next_events, SPEC §12); create with register_consumer';
COMMENT ON COLUMN order_mgmt.event_consumer.shop_id IS 'The shop whose events it reads';
COMMENT ON COLUMN order_mgmt.event_consumer.consumer IS 'Its name, chosen by the application';
COMMENT ON COLUMN order_mgmt.event_consumer.snapshot IS 'Every event of a transaction visible in this snapshot has been delivered';
COMMENT ON COLUMN order_mgmt.event_consumer.batch_snapshot IS 'The batch being delivered: events visible here and not in snapshot; NULL between batches';
COMMENT ON COLUMN order_mgmt.event_consumer.batch_after IS 'The last event_id delivered of the batch (the batch is paged by event_id)';
COMMENT ON COLUMN order_mgmt.event_consumer.created_at IS 'When registered (order_mgmt.now())';
COMMENT ON COLUMN order_mgmt.event_consumer.updated_at IS 'When it last read (order_mgmt.now())';

CREATE TABLE order_mgmt.due_action (
	shop_id bigint NOT NULL,
	order_id bigint NOT NULL,
	action order_mgmt.due_kind NOT NULL,
	due_at timestamptz NOT NULL,
	rule_id bigint,
	reason order_mgmt.cancel_reason,
	created_at timestamptz NOT NULL,
	attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	last_error text,
	failed_at timestamptz,
	PRIMARY KEY (shop_id, order_id, action)
);
CREATE INDEX due_action_due ON order_mgmt.due_action (due_at);
COMMENT ON TABLE order_mgmt.due_action IS 'Deadlines: what the sweeper (run_due) must do to an order, and when (SPEC §13); rows with attempts > 0 are failing and back off.  A payment timeout is orders.payment_due_at (index orders_payment_due), here only while it fails';
COMMENT ON COLUMN order_mgmt.due_action.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.due_action.order_id IS 'The order';
COMMENT ON COLUMN order_mgmt.due_action.action IS 'What to do';
COMMENT ON COLUMN order_mgmt.due_action.due_at IS 'When it is due';
COMMENT ON COLUMN order_mgmt.due_action.rule_id IS 'Automation rule that scheduled it (automation_complete)';
COMMENT ON COLUMN order_mgmt.due_action.reason IS 'Cancel reason of an auto_cancel (payment_failed or payment_timeout)';
COMMENT ON COLUMN order_mgmt.due_action.created_at IS 'When it was scheduled';
COMMENT ON COLUMN order_mgmt.due_action.attempts IS 'How many times run_due() failed to perform it (errors other than a busy row); each failure moves due_at later: 1 minute, doubling, at most 1 hour';
COMMENT ON COLUMN order_mgmt.due_action.last_error IS 'The error message of its last failure (NULL if it never failed)';
COMMENT ON COLUMN order_mgmt.due_action.failed_at IS 'When it last failed (order_mgmt.now()); NULL if it never failed';

CREATE TABLE order_mgmt.status_label (
	enum_type text NOT NULL CHECK (enum_type IN
		('order_status', 'payment_status', 'delivery_status', 'logistics_kind',
		 'cancel_source', 'cancel_reason', 'return_method', 'refund_method',
		 'reward_unit', 'store_credit_kind')),
	value text NOT NULL,
	locale text NOT NULL,
	label text NOT NULL,
	builtin boolean NOT NULL DEFAULT false,
	PRIMARY KEY (enum_type, value, locale, builtin)
);
COMMENT ON TABLE order_mgmt.status_label IS 'Display labels of status values per locale; a row with builtin = false overrides the built-in one';
COMMENT ON COLUMN order_mgmt.status_label.enum_type IS 'Enum type name within order_mgmt (order_status ...)';
COMMENT ON COLUMN order_mgmt.status_label.value IS 'Enum value';
COMMENT ON COLUMN order_mgmt.status_label.locale IS 'Locale: en, zh-Hant, zh-Hans, th, fi, or any a shop adds';
COMMENT ON COLUMN order_mgmt.status_label.label IS 'Text shown to people';
COMMENT ON COLUMN order_mgmt.status_label.builtin IS 'Seeded by the extension (not dumped); shops insert rows with false to override';
