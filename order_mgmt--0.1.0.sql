-- order_mgmt install script, assembled by the Makefile from src/sql/*.sql.
\echo Use "CREATE EXTENSION order_mgmt" to load this file. \quit

-- Enum types (SPEC §2, §3).  Their labels are mirrored in src/machines.c,
-- which checks the two agree the first time it reads them.

CREATE TYPE order_mgmt.order_status AS ENUM
	('pending', 'confirmed', 'completed', 'cancelled');
COMMENT ON TYPE order_mgmt.order_status IS
	'Order status machine (SPEC §3.1); moves are listed in order_mgmt.transitions';

CREATE TYPE order_mgmt.payment_status AS ENUM
	('unpaid', 'pending', 'paid', 'failed', 'refunding', 'partially_refunded', 'refunded');
COMMENT ON TYPE order_mgmt.payment_status IS
	'Payment status machine (SPEC §3.2); moves are listed in order_mgmt.transitions';

CREATE TYPE order_mgmt.delivery_status AS ENUM
	('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue',
	 'shipping', 'shipped', 'arrived', 'collected', 'returning', 'returned');
COMMENT ON TYPE order_mgmt.delivery_status IS
	'Delivery status machine (SPEC §3.3); moves are listed in order_mgmt.transitions';

CREATE TYPE order_mgmt.logistics_kind AS ENUM ('standard', 'integrated', 'cod');
COMMENT ON TYPE order_mgmt.logistics_kind IS
	'standard starts delivery unfulfilled; integrated (carrier-integrated) and cod (cash on delivery) start not_executed';

CREATE TYPE order_mgmt.cancel_source AS ENUM ('customer', 'merchant', 'system');
COMMENT ON TYPE order_mgmt.cancel_source IS 'Who cancelled an order';

CREATE TYPE order_mgmt.cancel_reason AS ENUM
	('changed_mind', 'found_better_price', 'shipping_cost', 'delivery_time',
	 'payment_failed', 'payment_timeout', 'out_of_stock', 'size_unavailable',
	 'wrong_item', 'duplicate_order', 'fraud_suspected', 'other');
COMMENT ON TYPE order_mgmt.cancel_reason IS 'Why an order was cancelled (seed 003)';

CREATE TYPE order_mgmt.reservation_state AS ENUM ('held', 'fulfilled', 'released');
COMMENT ON TYPE order_mgmt.reservation_state IS
	'held counts in stock.reserved; fulfilled left stock at shipment; released went back to available';

CREATE TYPE order_mgmt.promo_kind AS ENUM ('percent', 'amount', 'free_shipping');
COMMENT ON TYPE order_mgmt.promo_kind IS 'What a promo code takes off an order';

CREATE TYPE order_mgmt.redemption_state AS ENUM ('active', 'released');
COMMENT ON TYPE order_mgmt.redemption_state IS
	'active redemptions count against a promo code''s limits; released ones do not';

CREATE TYPE order_mgmt.payment_kind AS ENUM ('charge', 'refund');
COMMENT ON TYPE order_mgmt.payment_kind IS 'Money in (charge) or out (refund)';

CREATE TYPE order_mgmt.payment_result AS ENUM ('pending', 'succeeded', 'failed');
COMMENT ON TYPE order_mgmt.payment_result IS 'Outcome of one payment attempt (payment.status)';

CREATE TYPE order_mgmt.due_kind AS ENUM
	('payment_timeout', 'auto_cancel', 'automation_complete', 'auto_archive', 'hold_end');
COMMENT ON TYPE order_mgmt.due_kind IS 'What the sweeper must do to an order when its due_action row is due (SPEC §13)';

CREATE TYPE order_mgmt.event_kind AS ENUM
	('order_status', 'payment_status', 'delivery_status',
	 'checkout', 'reserve', 'release', 'commit_stock', 'promo_claim',
	 'promo_release', 'payment', 'refund', 'refund_owed', 'overpaid', 'note',
	 'archive', 'unarchive', 'return', 'reward', 'deadline');
COMMENT ON TYPE order_mgmt.event_kind IS
	'Kinds of order_event rows (SPEC §12): a status machine for a transition, else a side effect';

CREATE TYPE order_mgmt.note_kind AS ENUM ('admin', 'shipping', 'customer', 'support');
COMMENT ON TYPE order_mgmt.note_kind IS
	'Notes on an order (SPEC §10); support records a contact with customer service';

CREATE TYPE order_mgmt.return_kind AS ENUM ('return', 'exchange');
COMMENT ON TYPE order_mgmt.return_kind IS 'A return gives goods back; an exchange swaps them for another SKU (SPEC §11)';

CREATE TYPE order_mgmt.return_state AS ENUM
	('requested', 'approved', 'rejected', 'cancelled', 'received', 'completed');
COMMENT ON TYPE order_mgmt.return_state IS
	'requested -> approved | rejected | cancelled; approved -> received | cancelled | completed (exchange shipped); received -> completed';

CREATE TYPE order_mgmt.reward_kind AS ENUM ('earned', 'reversed');
COMMENT ON TYPE order_mgmt.reward_kind IS 'Reward points earned on completion, or taken back by a refund (SPEC §9)';

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
	updated_at timestamptz NOT NULL
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
COMMENT ON COLUMN order_mgmt.shop.admission_queue IS 'Default for taking a per-SKU advisory lock before the stock row (SPEC §4.4)';
COMMENT ON COLUMN order_mgmt.shop.created_at IS 'When the shop was created (order_mgmt.now())';
COMMENT ON COLUMN order_mgmt.shop.updated_at IS 'When the shop was last changed (order_mgmt.now())';

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
	PRIMARY KEY (shop_id, sku)
);
CREATE INDEX ON order_mgmt.sku (shop_id, product_id);
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
COMMENT ON TABLE order_mgmt.stock_log IS 'Every change of physical stock by set_stock and adjust_stock';
COMMENT ON COLUMN order_mgmt.stock_log.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.stock_log.entry_id IS 'Log entry id';
COMMENT ON COLUMN order_mgmt.stock_log.sku IS 'The SKU';
COMMENT ON COLUMN order_mgmt.stock_log.delta IS 'Change of on_hand over all buckets';
COMMENT ON COLUMN order_mgmt.stock_log.on_hand IS 'on_hand over all buckets after the change';
COMMENT ON COLUMN order_mgmt.stock_log.note IS 'Why (adjust_stock''s note)';
COMMENT ON COLUMN order_mgmt.stock_log.actor IS 'Role that made the change';
COMMENT ON COLUMN order_mgmt.stock_log.at IS 'When (order_mgmt.now())';

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
	shop_id bigint NOT NULL REFERENCES order_mgmt.shop,
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
	PRIMARY KEY (shop_id, order_id),
	UNIQUE (shop_id, order_no),
	FOREIGN KEY (shop_id, customer_id) REFERENCES order_mgmt.customer
);
CREATE UNIQUE INDEX orders_idempotency_key ON order_mgmt.orders (shop_id, idempotency_key)
	WHERE idempotency_key IS NOT NULL;
-- the reports' scan by shop-local day: covering, so they read the index only
-- (order_id too: report_recovery joins the range's orders to their events)
CREATE INDEX orders_created ON order_mgmt.orders (shop_id, created_at)
	INCLUDE (total, status, payment_status, delivery_status, paid_amount, refunded_amount,
			 paid_at, consulted_support, order_id);
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
COMMENT ON COLUMN order_mgmt.orders.reactivated_at IS 'Last reactivation: from then on the merchant owns the order (no payment deadline, no auto-cancel)';

CREATE TABLE order_mgmt.order_line (
	shop_id bigint NOT NULL,
	order_id bigint NOT NULL,
	line_no integer NOT NULL CHECK (line_no > 0),
	sku text NOT NULL,
	qty integer NOT NULL CHECK (qty > 0),
	unit_price numeric NOT NULL CHECK (unit_price >= 0),
	discount numeric NOT NULL DEFAULT 0 CHECK (discount >= 0),
	returned_qty integer NOT NULL DEFAULT 0 CHECK (returned_qty >= 0 AND returned_qty <= qty),
	ordered_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, order_id, line_no),
	FOREIGN KEY (shop_id, order_id) REFERENCES order_mgmt.orders,
	FOREIGN KEY (shop_id, sku) REFERENCES order_mgmt.sku
);
COMMENT ON TABLE order_mgmt.order_line IS 'Lines of an order; never deleted';
COMMENT ON COLUMN order_mgmt.order_line.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.order_line.order_id IS 'The order';
COMMENT ON COLUMN order_mgmt.order_line.line_no IS 'Line number within the order, from 1';
COMMENT ON COLUMN order_mgmt.order_line.sku IS 'The SKU bought';
COMMENT ON COLUMN order_mgmt.order_line.qty IS 'Units bought';
COMMENT ON COLUMN order_mgmt.order_line.unit_price IS 'Price per unit at checkout';
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
	PRIMARY KEY (shop_id, reservation_id),
	FOREIGN KEY (shop_id, order_id) REFERENCES order_mgmt.orders
);
CREATE INDEX reservation_order ON order_mgmt.reservation (shop_id, order_id);
CREATE INDEX reservation_held ON order_mgmt.reservation (shop_id, sku, bucket) WHERE state = 'held';
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
	PRIMARY KEY (shop_id, code_key, order_id),
	FOREIGN KEY (shop_id, code_key) REFERENCES order_mgmt.promo_code,
	FOREIGN KEY (shop_id, order_id) REFERENCES order_mgmt.orders
);
CREATE INDEX promo_redemption_order ON order_mgmt.promo_redemption (shop_id, order_id);

CREATE TABLE order_mgmt.promo_customer_use (
	shop_id bigint NOT NULL,
	code_key text NOT NULL,
	who text NOT NULL,
	used integer NOT NULL CHECK (used >= 0),
	PRIMARY KEY (shop_id, code_key, who),
	FOREIGN KEY (shop_id, code_key) REFERENCES order_mgmt.promo_code
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
	PRIMARY KEY (shop_id, payment_id),
	UNIQUE (shop_id, provider_ref),
	FOREIGN KEY (shop_id, order_id) REFERENCES order_mgmt.orders
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

CREATE SEQUENCE order_mgmt.event_id_seq;
COMMENT ON SEQUENCE order_mgmt.event_id_seq IS 'event_id values: increasing, so consumers page with events_since';

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
	PRIMARY KEY (shop_id, event_id),
	FOREIGN KEY (shop_id, order_id) REFERENCES order_mgmt.orders
);
CREATE INDEX order_event_order ON order_mgmt.order_event (shop_id, order_id, event_id);
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

CREATE TABLE order_mgmt.due_action (
	shop_id bigint NOT NULL,
	order_id bigint NOT NULL,
	action order_mgmt.due_kind NOT NULL,
	due_at timestamptz NOT NULL,
	rule_id bigint,
	reason order_mgmt.cancel_reason,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, order_id, action),
	FOREIGN KEY (shop_id, order_id) REFERENCES order_mgmt.orders
);
CREATE INDEX due_action_due ON order_mgmt.due_action (due_at);
COMMENT ON TABLE order_mgmt.due_action IS 'Deadlines: what the sweeper (run_due) must do to an order, and when (SPEC §13)';
COMMENT ON COLUMN order_mgmt.due_action.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.due_action.order_id IS 'The order';
COMMENT ON COLUMN order_mgmt.due_action.action IS 'What to do';
COMMENT ON COLUMN order_mgmt.due_action.due_at IS 'When it is due';
COMMENT ON COLUMN order_mgmt.due_action.rule_id IS 'Automation rule that scheduled it (automation_complete)';
COMMENT ON COLUMN order_mgmt.due_action.reason IS 'Cancel reason of an auto_cancel (payment_failed or payment_timeout)';
COMMENT ON COLUMN order_mgmt.due_action.created_at IS 'When it was scheduled';

CREATE TABLE order_mgmt.status_label (
	enum_type text NOT NULL CHECK (enum_type IN
		('order_status', 'payment_status', 'delivery_status', 'logistics_kind',
		 'cancel_source', 'cancel_reason')),
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

-- Fulfilment, automation, returns (SPEC §9, §10, §11).

CREATE SEQUENCE order_mgmt.shipment_id_seq;
COMMENT ON SEQUENCE order_mgmt.shipment_id_seq IS 'shipment_id values';

CREATE TABLE order_mgmt.shipment (
	shop_id bigint NOT NULL,
	shipment_id bigint NOT NULL DEFAULT nextval('order_mgmt.shipment_id_seq'),
	order_id bigint NOT NULL,
	return_id bigint,
	carrier text,
	tracking_no text,
	status order_mgmt.delivery_status NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, shipment_id),
	FOREIGN KEY (shop_id, order_id) REFERENCES order_mgmt.orders
);
CREATE INDEX shipment_order ON order_mgmt.shipment (shop_id, order_id);
COMMENT ON TABLE order_mgmt.shipment IS 'Parcels sent for an order (or an exchange''s replacement), with carrier and tracking number';
COMMENT ON COLUMN order_mgmt.shipment.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.shipment.shipment_id IS 'Shipment id';
COMMENT ON COLUMN order_mgmt.shipment.order_id IS 'The order shipped';
COMMENT ON COLUMN order_mgmt.shipment.return_id IS 'Set when the parcel is an exchange''s replacement';
COMMENT ON COLUMN order_mgmt.shipment.carrier IS 'Carrier (black cat, 7-11, Kerry ...)';
COMMENT ON COLUMN order_mgmt.shipment.tracking_no IS 'Package tracking number';
COMMENT ON COLUMN order_mgmt.shipment.status IS 'Delivery status of the parcel';
COMMENT ON COLUMN order_mgmt.shipment.created_at IS 'When it was handed to the carrier';
COMMENT ON COLUMN order_mgmt.shipment.updated_at IS 'Last status change';

CREATE SEQUENCE order_mgmt.rule_id_seq;
COMMENT ON SEQUENCE order_mgmt.rule_id_seq IS 'rule_id values';

CREATE TABLE order_mgmt.automation_rule (
	shop_id bigint NOT NULL REFERENCES order_mgmt.shop,
	rule_id bigint NOT NULL DEFAULT nextval('order_mgmt.rule_id_seq'),
	name text NOT NULL CHECK (name <> ''),
	payment_in order_mgmt.payment_status[] NOT NULL CHECK (cardinality(payment_in) > 0),
	delivery_in order_mgmt.delivery_status[] NOT NULL CHECK (cardinality(delivery_in) > 0),
	delay interval NOT NULL CHECK (delay >= '0'),
	enabled boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, rule_id)
);
COMMENT ON TABLE order_mgmt.automation_rule IS 'Order status automation (seed 001): complete an order delay after its statuses first match';
COMMENT ON COLUMN order_mgmt.automation_rule.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.automation_rule.rule_id IS 'Rule id';
COMMENT ON COLUMN order_mgmt.automation_rule.name IS 'Name shown to the merchant';
COMMENT ON COLUMN order_mgmt.automation_rule.payment_in IS 'Payment statuses that match';
COMMENT ON COLUMN order_mgmt.automation_rule.delivery_in IS 'Delivery statuses that match';
COMMENT ON COLUMN order_mgmt.automation_rule.delay IS 'How long after the statuses first match the order completes';
COMMENT ON COLUMN order_mgmt.automation_rule.enabled IS 'Switched on';
COMMENT ON COLUMN order_mgmt.automation_rule.created_at IS 'When the rule was created';

CREATE SEQUENCE order_mgmt.entry_id_seq;
COMMENT ON SEQUENCE order_mgmt.entry_id_seq IS 'reward_ledger entry_id values';

CREATE TABLE order_mgmt.reward_ledger (
	shop_id bigint NOT NULL,
	entry_id bigint NOT NULL DEFAULT nextval('order_mgmt.entry_id_seq'),
	customer_id text NOT NULL,
	order_id bigint NOT NULL,
	points bigint NOT NULL CHECK (points > 0),
	kind order_mgmt.reward_kind NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, entry_id),
	FOREIGN KEY (shop_id, order_id) REFERENCES order_mgmt.orders,
	FOREIGN KEY (shop_id, customer_id) REFERENCES order_mgmt.customer
);
CREATE UNIQUE INDEX reward_earned_once ON order_mgmt.reward_ledger (shop_id, order_id) WHERE kind = 'earned';
CREATE INDEX reward_customer ON order_mgmt.reward_ledger (shop_id, customer_id);
COMMENT ON TABLE order_mgmt.reward_ledger IS 'Reward points: earned once per completed order, reversed by later refunds';
COMMENT ON COLUMN order_mgmt.reward_ledger.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.reward_ledger.entry_id IS 'Entry id';
COMMENT ON COLUMN order_mgmt.reward_ledger.customer_id IS 'Customer credited';
COMMENT ON COLUMN order_mgmt.reward_ledger.order_id IS 'The order';
COMMENT ON COLUMN order_mgmt.reward_ledger.points IS 'Points (always positive; kind says which way)';
COMMENT ON COLUMN order_mgmt.reward_ledger.kind IS 'earned or reversed';
COMMENT ON COLUMN order_mgmt.reward_ledger.created_at IS 'When';

CREATE TABLE order_mgmt.cancel_feedback (
	shop_id bigint NOT NULL,
	order_id bigint NOT NULL,
	reason order_mgmt.cancel_reason NOT NULL,
	comment text,
	score integer CHECK (score BETWEEN 1 AND 5),
	recorded_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, order_id),
	FOREIGN KEY (shop_id, order_id) REFERENCES order_mgmt.orders
);
COMMENT ON TABLE order_mgmt.cancel_feedback IS 'Why a customer cancelled, in their words (seed 003)';
COMMENT ON COLUMN order_mgmt.cancel_feedback.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.cancel_feedback.order_id IS 'The cancelled order';
COMMENT ON COLUMN order_mgmt.cancel_feedback.reason IS 'Reason the customer chose';
COMMENT ON COLUMN order_mgmt.cancel_feedback.comment IS 'Free text';
COMMENT ON COLUMN order_mgmt.cancel_feedback.score IS 'Satisfaction 1-5';
COMMENT ON COLUMN order_mgmt.cancel_feedback.recorded_at IS 'When';

CREATE SEQUENCE order_mgmt.return_id_seq;
COMMENT ON SEQUENCE order_mgmt.return_id_seq IS 'return_id values';

CREATE TABLE order_mgmt.return_request (
	shop_id bigint NOT NULL,
	return_id bigint NOT NULL DEFAULT nextval('order_mgmt.return_id_seq'),
	order_id bigint NOT NULL,
	kind order_mgmt.return_kind NOT NULL,
	state order_mgmt.return_state NOT NULL DEFAULT 'requested',
	reason text,
	note text,
	refund_amount numeric NOT NULL DEFAULT 0 CHECK (refund_amount >= 0),
	restock boolean,
	credit_note boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, return_id),
	FOREIGN KEY (shop_id, order_id) REFERENCES order_mgmt.orders
);
CREATE INDEX return_request_order ON order_mgmt.return_request (shop_id, order_id);
COMMENT ON TABLE order_mgmt.return_request IS 'Return and exchange requests (seed 001): requested -> approved | rejected | cancelled; approved -> received | cancelled; received -> completed';
COMMENT ON COLUMN order_mgmt.return_request.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.return_request.return_id IS 'Return id';
COMMENT ON COLUMN order_mgmt.return_request.order_id IS 'The order the goods came from';
COMMENT ON COLUMN order_mgmt.return_request.kind IS 'return or exchange';
COMMENT ON COLUMN order_mgmt.return_request.state IS 'Where the request stands';
COMMENT ON COLUMN order_mgmt.return_request.reason IS 'Why the customer returns the goods';
COMMENT ON COLUMN order_mgmt.return_request.note IS 'Merchant''s note (a rejection''s reason)';
COMMENT ON COLUMN order_mgmt.return_request.refund_amount IS 'Money the returned lines were paid (after discounts): what refund() would give back';
COMMENT ON COLUMN order_mgmt.return_request.restock IS 'Whether the received goods went back to on_hand';
COMMENT ON COLUMN order_mgmt.return_request.credit_note IS 'An invoice allowance / credit note is owed for it';
COMMENT ON COLUMN order_mgmt.return_request.created_at IS 'When requested';
COMMENT ON COLUMN order_mgmt.return_request.updated_at IS 'Last change';

CREATE TABLE order_mgmt.return_line (
	shop_id bigint NOT NULL,
	return_id bigint NOT NULL,
	line_no integer NOT NULL CHECK (line_no > 0),
	sku text NOT NULL,
	qty integer NOT NULL CHECK (qty > 0),
	exchange_sku text,
	refund_amount numeric NOT NULL DEFAULT 0 CHECK (refund_amount >= 0),
	PRIMARY KEY (shop_id, return_id, line_no),
	FOREIGN KEY (shop_id, return_id) REFERENCES order_mgmt.return_request,
	FOREIGN KEY (shop_id, sku) REFERENCES order_mgmt.sku,
	FOREIGN KEY (shop_id, exchange_sku) REFERENCES order_mgmt.sku
);
COMMENT ON TABLE order_mgmt.return_line IS 'What a return or exchange takes back, and for an exchange what it sends instead';
COMMENT ON COLUMN order_mgmt.return_line.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.return_line.return_id IS 'The request';
COMMENT ON COLUMN order_mgmt.return_line.line_no IS 'Line number within the request';
COMMENT ON COLUMN order_mgmt.return_line.sku IS 'SKU coming back';
COMMENT ON COLUMN order_mgmt.return_line.qty IS 'Units coming back';
COMMENT ON COLUMN order_mgmt.return_line.exchange_sku IS 'SKU sent instead (exchange), held at request';
COMMENT ON COLUMN order_mgmt.return_line.refund_amount IS 'What these units were paid, after discounts';

-- C functions.  SECURITY DEFINER functions pin search_path (SPEC §17).

CREATE FUNCTION order_mgmt.now() RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'om_now_sql'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION order_mgmt.now() IS
	'The time every order_mgmt rule uses: transaction start, or the test clock order_mgmt.clock when set';

CREATE FUNCTION order_mgmt.normalize_code(code text) RETURNS text
	AS 'MODULE_PATHNAME', 'om_normalize_text'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION order_mgmt.normalize_code(text) IS
	'Promo code key: ICU NFKC case folding, trimmed (ＳＡＬＥ１０ = sale10)';

CREATE FUNCTION order_mgmt.normalize_email(email text) RETURNS text
	AS 'MODULE_PATHNAME', 'om_normalize_text'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION order_mgmt.normalize_email(text) IS
	'E-mail key for matching guests and per-customer limits: ICU NFKC case folding, trimmed';

CREATE FUNCTION order_mgmt.transition_table()
	RETURNS TABLE (machine text, from_value text, to_value text, via text)
	AS 'MODULE_PATHNAME', 'om_transition_table'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION order_mgmt.transition_table() IS
	'The allowed status moves, as compiled into the C guard (see the view order_mgmt.transitions)';

CREATE FUNCTION order_mgmt.create_shop(shop_id bigint, name text, currency text DEFAULT 'TWD',
		locale text DEFAULT 'zh-TW', timezone text DEFAULT 'Asia/Taipei')
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_create_shop'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.create_shop(bigint, text, text, text, text) IS
	'Creates a shop with default settings; 23505 if it exists';

CREATE FUNCTION order_mgmt.update_shop(shop_id bigint, settings jsonb)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_update_shop'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.update_shop(bigint, jsonb) IS
	'Changes shop settings by name, e.g. {"payment_timeout": "15 minutes", "auto_cancel_failed": true}';

CREATE FUNCTION order_mgmt.upsert_sku(shop_id bigint, sku text, price numeric,
		product_id text DEFAULT NULL, title text DEFAULT NULL, attrs jsonb DEFAULT '{}',
		digital boolean DEFAULT false, allow_backorder boolean DEFAULT false,
		stock_buckets integer DEFAULT NULL, admission_queue boolean DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_upsert_sku'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.upsert_sku(bigint, text, numeric, text, text, jsonb, boolean, boolean, integer, boolean) IS
	'Creates or replaces a SKU (every argument is its new value) and creates its stock rows';

CREATE FUNCTION order_mgmt.set_stock(shop_id bigint, sku text, on_hand integer)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_set_stock'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.set_stock(bigint, text, integer) IS
	'Sets a SKU''s physical stock, spread over its buckets; OM001 below reserved unless backorder; logged in stock_log';

CREATE FUNCTION order_mgmt.adjust_stock(shop_id bigint, sku text, delta integer, note text DEFAULT NULL)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'om_adjust_stock'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.adjust_stock(bigint, text, integer, text) IS
	'Changes a SKU''s physical stock by delta and returns the new on_hand; OM001 below reserved unless backorder';

CREATE FUNCTION order_mgmt.upsert_customer(shop_id bigint, customer_id text, email text,
		is_member boolean DEFAULT true, name text DEFAULT NULL, phone text DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_upsert_customer'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.upsert_customer(bigint, text, text, boolean, text, text) IS
	'Creates or replaces a customer; email is normalized into email_key';

CREATE FUNCTION order_mgmt.label(value anyenum, locale text DEFAULT NULL) RETURNS text
	AS 'MODULE_PATHNAME', 'om_label'
	LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.label(anyenum, text) IS
	'The label of a status in the best matching locale (zh-TW, zh_HK -> zh-Hant; zh-CN -> zh-Hans; th-TH -> th; fi-FI -> fi; else en); status_label rows with builtin = false override';

CREATE FUNCTION order_mgmt.format_money(amount numeric, currency text, locale text) RETURNS text
	AS 'MODULE_PATHNAME', 'om_format_money'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION order_mgmt.format_money(numeric, text, text) IS
	'Money formatted by ICU for a locale, rounded to the currency''s minor units (NT$1,200.00, ฿1,200.00, 1 200,00 €)';

-- The shop API (SPEC §20): checkout, promo codes, cancel and reactivate,
-- payments, deadlines, events.  Argument names are the contract.

CREATE FUNCTION order_mgmt.checkout(shop_id bigint, lines jsonb, customer_id text DEFAULT NULL,
		email text DEFAULT NULL, promo_code text DEFAULT NULL,
		payment_method text DEFAULT 'credit_card',
		logistics order_mgmt.logistics_kind DEFAULT 'standard',
		shipping_fee numeric DEFAULT 0, order_no text DEFAULT NULL,
		payment_timeout interval DEFAULT NULL, hold interval DEFAULT NULL,
		idempotency_key text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_checkout'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.checkout(bigint, jsonb, text, text, text, text, order_mgmt.logistics_kind, numeric, text, interval, interval, text) IS
	'Creates an order from lines [{"sku":"A","qty":2}, ...], holds its stock and claims its promo code, all or nothing; returns order_id';

CREATE FUNCTION order_mgmt.create_promo(shop_id bigint, code text, kind order_mgmt.promo_kind,
		value numeric, usage_limit integer DEFAULT NULL, per_customer_limit integer DEFAULT NULL,
		min_subtotal numeric DEFAULT 0, starts_at timestamptz DEFAULT NULL,
		ends_at timestamptz DEFAULT NULL, customer_id text DEFAULT NULL)
	RETURNS text
	AS 'MODULE_PATHNAME', 'om_create_promo'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.create_promo(bigint, text, order_mgmt.promo_kind, numeric, integer, integer, numeric, timestamptz, timestamptz, text) IS
	'Creates a promo code; returns its key normalize_code(code)';

CREATE FUNCTION order_mgmt.issue_winback_code(shop_id bigint, order_id bigint,
		kind order_mgmt.promo_kind DEFAULT 'percent', value numeric DEFAULT 10,
		valid_for interval DEFAULT '30 days')
	RETURNS text
	AS 'MODULE_PATHNAME', 'om_issue_winback_code'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.issue_winback_code(bigint, bigint, order_mgmt.promo_kind, numeric, interval) IS
	'A personal single-use code for the customer of a cancelled order (seed 003); returns its key';

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
		provider_ref text DEFAULT NULL, note text DEFAULT NULL)
	RETURNS order_mgmt.payment_status
	AS 'MODULE_PATHNAME', 'om_refund'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.refund(bigint, bigint, numeric, text, text) IS
	'Returns money: refunded when all paid money is back, else partially_refunded; never above paid (OM010)';

CREATE FUNCTION order_mgmt.run_due(max_actions integer DEFAULT 1000)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'om_run_due'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.run_due(integer) IS
	'Performs due deadlines (payment timeout, auto-cancel) without waiting on any row; returns how many; safe to run concurrently';

CREATE FUNCTION order_mgmt.events_since(shop_id bigint, after_event_id bigint, max integer DEFAULT 1000)
	RETURNS SETOF order_mgmt.order_event
	AS 'MODULE_PATHNAME', 'om_events_since'
	LANGUAGE C STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.events_since(bigint, bigint, integer) IS
	'Events after after_event_id, only those older than every running transaction, so a consumer never skips one';

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
	'Moves delivery (the carrier''s progress); keeps the order''s shipment in step';

CREATE FUNCTION order_mgmt.ship(shop_id bigint, order_id bigint, carrier text DEFAULT NULL,
		tracking_no text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_ship'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.ship(bigint, bigint, text, text) IS
	'Hands the order to the carrier (shipped, or shipping for integrated and cod); commits its stock; returns the shipment_id';

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
	'Records why a customer cancelled (seed 003): reason, comment, score 1-5';

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

-- Returns and exchanges (SPEC §11)

CREATE FUNCTION order_mgmt.request_return(shop_id bigint, order_id bigint, lines jsonb, reason text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_request_return'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.request_return(bigint, bigint, jsonb, text) IS
	'Asks to send shipped goods back, all or part ([{"sku":"A","qty":1}]); OM012 beyond what shipped; returns the return_id';

CREATE FUNCTION order_mgmt.request_exchange(shop_id bigint, order_id bigint, from_sku text, to_sku text,
		qty integer DEFAULT 1)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'om_request_exchange'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.request_exchange(bigint, bigint, text, text, integer) IS
	'Asks to swap shipped units of from_sku for to_sku, holding to_sku at once (OM001); returns the return_id';

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

-- Guard triggers (src/order_guard.c).  They are SECURITY DEFINER so that the
-- events they append are written whoever makes the change; the actor is
-- still the caller's role.

CREATE FUNCTION order_mgmt.orders_guard() RETURNS trigger
	AS 'MODULE_PATHNAME', 'om_orders_guard'
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.orders_guard() IS
	'BEFORE INSERT OR UPDATE on orders: refuses moves outside the status machines and cross-status rules, stamps the row';

CREATE FUNCTION order_mgmt.orders_after() RETURNS trigger
	AS 'MODULE_PATHNAME', 'om_orders_after'
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.orders_after() IS
	'AFTER UPDATE on orders: appends the transition events and does the side effects (stock, promo, deadlines)';

CREATE FUNCTION order_mgmt.forbid_change() RETURNS trigger
	AS 'MODULE_PATHNAME', 'om_forbid_change'
	LANGUAGE C;
COMMENT ON FUNCTION order_mgmt.forbid_change() IS
	'Refuses DELETE and TRUNCATE of orders and their history, and UPDATE of the event log (OM009)';

CREATE FUNCTION order_mgmt.order_line_stamp() RETURNS trigger
	AS 'MODULE_PATHNAME', 'om_order_line_stamp'
	LANGUAGE C;
COMMENT ON FUNCTION order_mgmt.order_line_stamp() IS
	'Fills order_line.ordered_at from the order''s created_at when an INSERT leaves it out';

CREATE TRIGGER order_line_stamp BEFORE INSERT ON order_mgmt.order_line
	FOR EACH ROW WHEN (NEW.ordered_at IS NULL) EXECUTE FUNCTION order_mgmt.order_line_stamp();
-- ALWAYS: also with session_replication_role = replica (imports with the
-- other triggers off); it only fills a value left out
ALTER TABLE order_mgmt.order_line ENABLE ALWAYS TRIGGER order_line_stamp;
COMMENT ON TRIGGER order_line_stamp ON order_mgmt.order_line IS 'Lines written by hand get their order''s creation time';

CREATE TRIGGER orders_guard BEFORE INSERT OR UPDATE ON order_mgmt.orders
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.orders_guard();
COMMENT ON TRIGGER orders_guard ON order_mgmt.orders IS 'Status machines on every path (SPEC §3)';

CREATE TRIGGER orders_after AFTER UPDATE ON order_mgmt.orders
	FOR EACH ROW
	WHEN (OLD.status IS DISTINCT FROM NEW.status
		  OR OLD.payment_status IS DISTINCT FROM NEW.payment_status
		  OR OLD.delivery_status IS DISTINCT FROM NEW.delivery_status
		  OR (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL)
		  OR OLD.refunded_amount IS DISTINCT FROM NEW.refunded_amount)
	EXECUTE FUNCTION order_mgmt.orders_after();
COMMENT ON TRIGGER orders_after ON order_mgmt.orders IS 'Transition events (SPEC §12) and side effects: stock, promo, deadlines (principle 1)';

CREATE TRIGGER orders_no_delete BEFORE DELETE ON order_mgmt.orders
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER orders_no_truncate BEFORE TRUNCATE ON order_mgmt.orders
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER order_line_no_delete BEFORE DELETE ON order_mgmt.order_line
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER order_line_no_truncate BEFORE TRUNCATE ON order_mgmt.order_line
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER payment_no_delete BEFORE DELETE ON order_mgmt.payment
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER payment_no_truncate BEFORE TRUNCATE ON order_mgmt.payment
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER order_event_append_only BEFORE UPDATE OR DELETE ON order_mgmt.order_event
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER order_event_no_truncate BEFORE TRUNCATE ON order_mgmt.order_event
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
COMMENT ON TRIGGER orders_no_delete ON order_mgmt.orders IS 'Orders are never deleted (OM009)';
COMMENT ON TRIGGER orders_no_truncate ON order_mgmt.orders IS 'Orders are never deleted (OM009)';
COMMENT ON TRIGGER order_line_no_delete ON order_mgmt.order_line IS 'Order lines are never deleted (OM009)';
COMMENT ON TRIGGER order_line_no_truncate ON order_mgmt.order_line IS 'Order lines are never deleted (OM009)';
COMMENT ON TRIGGER payment_no_delete ON order_mgmt.payment IS 'Payments are never deleted (OM009)';
COMMENT ON TRIGGER payment_no_truncate ON order_mgmt.payment IS 'Payments are never deleted (OM009)';
COMMENT ON TRIGGER order_event_append_only ON order_mgmt.order_event IS 'The event log is append-only (OM009)';
COMMENT ON TRIGGER order_event_no_truncate ON order_mgmt.order_event IS 'The event log is append-only (OM009)';

CREATE TRIGGER shipment_no_delete BEFORE DELETE ON order_mgmt.shipment
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER shipment_no_truncate BEFORE TRUNCATE ON order_mgmt.shipment
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER reward_ledger_append_only BEFORE UPDATE OR DELETE ON order_mgmt.reward_ledger
	FOR EACH ROW EXECUTE FUNCTION order_mgmt.forbid_change();
CREATE TRIGGER reward_ledger_no_truncate BEFORE TRUNCATE ON order_mgmt.reward_ledger
	FOR EACH STATEMENT EXECUTE FUNCTION order_mgmt.forbid_change();
COMMENT ON TRIGGER shipment_no_delete ON order_mgmt.shipment IS 'Shipments are never deleted (OM009)';
COMMENT ON TRIGGER shipment_no_truncate ON order_mgmt.shipment IS 'Shipments are never deleted (OM009)';
COMMENT ON TRIGGER reward_ledger_append_only ON order_mgmt.reward_ledger IS 'The reward ledger is append-only (OM009)';
COMMENT ON TRIGGER reward_ledger_no_truncate ON order_mgmt.reward_ledger IS 'The reward ledger is append-only (OM009)';

-- Views for DBAs.

CREATE VIEW order_mgmt.transitions AS
	SELECT machine, from_value, to_value, via FROM order_mgmt.transition_table();
COMMENT ON VIEW order_mgmt.transitions IS
	'Every allowed status move (SPEC §3: 7 order, 17 payment, 21 delivery); anything else fails with OM005';
COMMENT ON COLUMN order_mgmt.transitions.machine IS 'order_status, payment_status or delivery_status';
COMMENT ON COLUMN order_mgmt.transitions.from_value IS 'Status before the move';
COMMENT ON COLUMN order_mgmt.transitions.to_value IS 'Status after the move';
COMMENT ON COLUMN order_mgmt.transitions.via IS 'API functions or processes that make the move';

CREATE VIEW order_mgmt.stock_level AS
	SELECT shop_id, sku,
		   sum(on_hand)::bigint AS on_hand,
		   sum(reserved)::bigint AS reserved,
		   sum(on_hand - reserved)::bigint AS available
	FROM order_mgmt.stock
	GROUP BY shop_id, sku;
COMMENT ON VIEW order_mgmt.stock_level IS 'Stock per SKU, summed over its buckets (SPEC §4.5)';
COMMENT ON COLUMN order_mgmt.stock_level.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.stock_level.sku IS 'The SKU';
COMMENT ON COLUMN order_mgmt.stock_level.on_hand IS 'Units physically in stock';
COMMENT ON COLUMN order_mgmt.stock_level.reserved IS 'Units held by orders';
COMMENT ON COLUMN order_mgmt.stock_level.available IS 'on_hand - reserved: units a checkout can still hold';

CREATE VIEW order_mgmt.promo_usage AS
	SELECT p.shop_id, p.code_key, p.code, p.kind, p.usage_limit,
		   count(r.order_id) FILTER (WHERE r.state = 'active') AS used,
		   count(r.order_id) FILTER (WHERE r.state = 'released') AS released
	FROM order_mgmt.promo_code p
	LEFT JOIN order_mgmt.promo_redemption r ON r.shop_id = p.shop_id AND r.code_key = p.code_key
	GROUP BY p.shop_id, p.code_key;
COMMENT ON VIEW order_mgmt.promo_usage IS 'Live use of every promo code, counted on the ledger (also for codes without a limit)';
COMMENT ON COLUMN order_mgmt.promo_usage.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.promo_usage.code_key IS 'normalize_code(code)';
COMMENT ON COLUMN order_mgmt.promo_usage.code IS 'The code as entered';
COMMENT ON COLUMN order_mgmt.promo_usage.kind IS 'percent, amount or free_shipping';
COMMENT ON COLUMN order_mgmt.promo_usage.usage_limit IS 'Live redemptions allowed; NULL = unlimited';
COMMENT ON COLUMN order_mgmt.promo_usage.used IS 'Active redemptions';
COMMENT ON COLUMN order_mgmt.promo_usage.released IS 'Redemptions given back by cancelled orders';

-- Built-in labels of SPEC §3 in five locales.  Shops override a label by
-- inserting a row with builtin = false; only those rows are dumped.

INSERT INTO order_mgmt.status_label (enum_type, value, locale, label, builtin) VALUES
	('order_status', 'pending', 'en', 'Pending', true),
	('order_status', 'pending', 'zh-Hant', '處理中', true),
	('order_status', 'pending', 'zh-Hans', '处理中', true),
	('order_status', 'pending', 'th', 'กำลังดำเนินการ', true),
	('order_status', 'pending', 'fi', 'Käsittelyssä', true),
	('order_status', 'confirmed', 'en', 'Confirmed', true),
	('order_status', 'confirmed', 'zh-Hant', '已確認', true),
	('order_status', 'confirmed', 'zh-Hans', '已确认', true),
	('order_status', 'confirmed', 'th', 'ยืนยันแล้ว', true),
	('order_status', 'confirmed', 'fi', 'Vahvistettu', true),
	('order_status', 'completed', 'en', 'Completed', true),
	('order_status', 'completed', 'zh-Hant', '已完成', true),
	('order_status', 'completed', 'zh-Hans', '已完成', true),
	('order_status', 'completed', 'th', 'เสร็จสมบูรณ์', true),
	('order_status', 'completed', 'fi', 'Valmis', true),
	('order_status', 'cancelled', 'en', 'Cancelled', true),
	('order_status', 'cancelled', 'zh-Hant', '已取消', true),
	('order_status', 'cancelled', 'zh-Hans', '已取消', true),
	('order_status', 'cancelled', 'th', 'ยกเลิกแล้ว', true),
	('order_status', 'cancelled', 'fi', 'Peruutettu', true),
	('payment_status', 'unpaid', 'en', 'Unpaid', true),
	('payment_status', 'unpaid', 'zh-Hant', '未付款', true),
	('payment_status', 'unpaid', 'zh-Hans', '未付款', true),
	('payment_status', 'unpaid', 'th', 'ยังไม่ชำระ', true),
	('payment_status', 'unpaid', 'fi', 'Maksamatta', true),
	('payment_status', 'pending', 'en', 'Payment pending', true),
	('payment_status', 'pending', 'zh-Hant', '付款處理中', true),
	('payment_status', 'pending', 'zh-Hans', '付款处理中', true),
	('payment_status', 'pending', 'th', 'รอการชำระเงิน', true),
	('payment_status', 'pending', 'fi', 'Maksu kesken', true),
	('payment_status', 'paid', 'en', 'Paid', true),
	('payment_status', 'paid', 'zh-Hant', '已付款', true),
	('payment_status', 'paid', 'zh-Hans', '已付款', true),
	('payment_status', 'paid', 'th', 'ชำระแล้ว', true),
	('payment_status', 'paid', 'fi', 'Maksettu', true),
	('payment_status', 'failed', 'en', 'Payment failed', true),
	('payment_status', 'failed', 'zh-Hant', '付款失敗', true),
	('payment_status', 'failed', 'zh-Hans', '付款失败', true),
	('payment_status', 'failed', 'th', 'การชำระเงินล้มเหลว', true),
	('payment_status', 'failed', 'fi', 'Maksu epäonnistui', true),
	('payment_status', 'refunding', 'en', 'Refunding', true),
	('payment_status', 'refunding', 'zh-Hant', '退款中', true),
	('payment_status', 'refunding', 'zh-Hans', '退款中', true),
	('payment_status', 'refunding', 'th', 'กำลังคืนเงิน', true),
	('payment_status', 'refunding', 'fi', 'Hyvitys käynnissä', true),
	('payment_status', 'partially_refunded', 'en', 'Partially refunded', true),
	('payment_status', 'partially_refunded', 'zh-Hant', '部分退款', true),
	('payment_status', 'partially_refunded', 'zh-Hans', '部分退款', true),
	('payment_status', 'partially_refunded', 'th', 'คืนเงินบางส่วน', true),
	('payment_status', 'partially_refunded', 'fi', 'Osittain hyvitetty', true),
	('payment_status', 'refunded', 'en', 'Refunded', true),
	('payment_status', 'refunded', 'zh-Hant', '已退款', true),
	('payment_status', 'refunded', 'zh-Hans', '已退款', true),
	('payment_status', 'refunded', 'th', 'คืนเงินแล้ว', true),
	('payment_status', 'refunded', 'fi', 'Hyvitetty', true),
	('delivery_status', 'unfulfilled', 'en', 'Preparing', true),
	('delivery_status', 'unfulfilled', 'zh-Hant', '備貨中', true),
	('delivery_status', 'unfulfilled', 'zh-Hans', '备货中', true),
	('delivery_status', 'unfulfilled', 'th', 'กำลังเตรียมสินค้า', true),
	('delivery_status', 'unfulfilled', 'fi', 'Valmistelussa', true),
	('delivery_status', 'not_executed', 'en', 'Not executed', true),
	('delivery_status', 'not_executed', 'zh-Hant', '未執行', true),
	('delivery_status', 'not_executed', 'zh-Hans', '未执行', true),
	('delivery_status', 'not_executed', 'th', 'ยังไม่ดำเนินการ', true),
	('delivery_status', 'not_executed', 'fi', 'Ei käsitelty', true),
	('delivery_status', 'shipment_cancelled', 'en', 'Shipment cancelled', true),
	('delivery_status', 'shipment_cancelled', 'zh-Hant', '取消寄件', true),
	('delivery_status', 'shipment_cancelled', 'zh-Hans', '取消寄件', true),
	('delivery_status', 'shipment_cancelled', 'th', 'ยกเลิกการส่ง', true),
	('delivery_status', 'shipment_cancelled', 'fi', 'Lähetys peruttu', true),
	('delivery_status', 'shipping_overdue', 'en', 'Shipping deadline passed', true),
	('delivery_status', 'shipping_overdue', 'zh-Hant', '已過出貨期限', true),
	('delivery_status', 'shipping_overdue', 'zh-Hans', '已过出货期限', true),
	('delivery_status', 'shipping_overdue', 'th', 'เลยกำหนดจัดส่ง', true),
	('delivery_status', 'shipping_overdue', 'fi', 'Lähetysaika ylittynyt', true),
	('delivery_status', 'shipping', 'en', 'Shipping', true),
	('delivery_status', 'shipping', 'zh-Hant', '發貨中', true),
	('delivery_status', 'shipping', 'zh-Hans', '发货中', true),
	('delivery_status', 'shipping', 'th', 'กำลังจัดส่ง', true),
	('delivery_status', 'shipping', 'fi', 'Lähetyksessä', true),
	('delivery_status', 'shipped', 'en', 'Shipped', true),
	('delivery_status', 'shipped', 'zh-Hant', '已發貨', true),
	('delivery_status', 'shipped', 'zh-Hans', '已发货', true),
	('delivery_status', 'shipped', 'th', 'จัดส่งแล้ว', true),
	('delivery_status', 'shipped', 'fi', 'Lähetetty', true),
	('delivery_status', 'arrived', 'en', 'Arrived', true),
	('delivery_status', 'arrived', 'zh-Hant', '已到達', true),
	('delivery_status', 'arrived', 'zh-Hans', '已到达', true),
	('delivery_status', 'arrived', 'th', 'ถึงปลายทางแล้ว', true),
	('delivery_status', 'arrived', 'fi', 'Saapunut', true),
	('delivery_status', 'collected', 'en', 'Collected', true),
	('delivery_status', 'collected', 'zh-Hant', '已取貨', true),
	('delivery_status', 'collected', 'zh-Hans', '已取货', true),
	('delivery_status', 'collected', 'th', 'รับสินค้าแล้ว', true),
	('delivery_status', 'collected', 'fi', 'Noudettu', true),
	('delivery_status', 'returning', 'en', 'Returning', true),
	('delivery_status', 'returning', 'zh-Hant', '退貨中', true),
	('delivery_status', 'returning', 'zh-Hans', '退货中', true),
	('delivery_status', 'returning', 'th', 'กำลังคืนสินค้า', true),
	('delivery_status', 'returning', 'fi', 'Palautus käynnissä', true),
	('delivery_status', 'returned', 'en', 'Returned', true),
	('delivery_status', 'returned', 'zh-Hant', '已退貨', true),
	('delivery_status', 'returned', 'zh-Hans', '已退货', true),
	('delivery_status', 'returned', 'th', 'คืนสินค้าแล้ว', true),
	('delivery_status', 'returned', 'fi', 'Palautettu', true);

-- verify(): one row per broken invariant; no rows means consistent (SPEC §18).
-- PL/pgSQL rather than SQL so that Citus can plan it (SPEC §18).

CREATE FUNCTION order_mgmt.check_invariants(p_shop bigint)
	RETURNS TABLE (check_name text, shop_id bigint, detail text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	-- stock rows within bounds: never oversold unless backorder
	RETURN QUERY
	SELECT 'stock_bounds', s.shop_id,
		   format('sku %s bucket %s: on_hand %s, reserved %s, backorder %s',
				  s.sku, s.bucket, s.on_hand, s.reserved, s.backorder)
	FROM order_mgmt.stock s
	WHERE (p_shop IS NULL OR s.shop_id = p_shop)
	  AND (s.reserved < 0 OR (NOT s.backorder AND (s.on_hand < 0 OR s.reserved > s.on_hand)));

	-- the stock row's backorder flag follows the SKU
	RETURN QUERY
	SELECT 'stock_backorder_flag', s.shop_id,
		   format('sku %s bucket %s: stock.backorder %s, sku.allow_backorder %s',
				  s.sku, s.bucket, s.backorder, k.allow_backorder)
	FROM order_mgmt.stock s JOIN order_mgmt.sku k USING (shop_id, sku)
	WHERE (p_shop IS NULL OR s.shop_id = p_shop) AND s.backorder <> k.allow_backorder;

	-- stock.reserved is the sum of the held reservations (the ledger)
	RETURN QUERY
	SELECT 'reserved_matches_held', coalesce(s.shop_id, r.shop_id),
		   format('sku %s bucket %s: reserved %s, held reservations %s',
				  coalesce(s.sku, r.sku), coalesce(s.bucket, r.bucket),
				  coalesce(s.reserved, 0), coalesce(r.held, 0))
	FROM (SELECT * FROM order_mgmt.stock WHERE p_shop IS NULL OR shop_id = p_shop) s
	FULL JOIN (SELECT shop_id, sku, bucket, sum(qty) AS held
			   FROM order_mgmt.reservation
			   WHERE state = 'held' AND (p_shop IS NULL OR shop_id = p_shop)
			   GROUP BY shop_id, sku, bucket) r
		ON r.shop_id = s.shop_id AND r.sku = s.sku AND r.bucket = s.bucket
	WHERE coalesce(s.reserved, 0) <> coalesce(r.held, 0);

	-- promo codes: used equals the active redemptions counted in it, within the limit
	RETURN QUERY
	SELECT 'promo_used', p.shop_id,
		   format('code %s: used %s, active redemptions %s (%s counted), usage_limit %s',
				  p.code_key, p.used, coalesce(r.active, 0), coalesce(r.counted, 0),
				  coalesce(p.usage_limit::text, 'none'))
	FROM order_mgmt.promo_code p
	LEFT JOIN (SELECT shop_id, code_key, count(*) AS active, count(*) FILTER (WHERE limited) AS counted
			   FROM order_mgmt.promo_redemption
			   WHERE state = 'active' AND (p_shop IS NULL OR shop_id = p_shop)
			   GROUP BY shop_id, code_key) r USING (shop_id, code_key)
	WHERE (p_shop IS NULL OR p.shop_id = p_shop)
	  AND (p.used <> coalesce(r.counted, 0)
		   OR coalesce(r.active, 0) > coalesce(p.usage_limit, 2147483647));

	-- per-customer use equals that customer's active redemptions, within the limit
	RETURN QUERY
	SELECT 'promo_customer_use', coalesce(u.shop_id, r.shop_id),
		   format('code %s, %s: used %s, active redemptions %s, per_customer_limit %s',
				  coalesce(u.code_key, r.code_key), coalesce(u.who, r.who), coalesce(u.used, 0),
				  coalesce(r.active, 0), coalesce(p.per_customer_limit::text, 'none'))
	FROM (SELECT * FROM order_mgmt.promo_customer_use WHERE p_shop IS NULL OR shop_id = p_shop) u
	FULL JOIN (SELECT shop_id, code_key, who, count(*) AS active
			   FROM order_mgmt.promo_redemption
			   WHERE state = 'active' AND who IS NOT NULL AND (p_shop IS NULL OR shop_id = p_shop)
			   GROUP BY shop_id, code_key, who) r
		ON r.shop_id = u.shop_id AND r.code_key = u.code_key AND r.who = u.who
	LEFT JOIN order_mgmt.promo_code p
		ON p.shop_id = coalesce(u.shop_id, r.shop_id) AND p.code_key = coalesce(u.code_key, r.code_key)
	WHERE coalesce(u.used, 0) <> coalesce(r.active, 0)
	   OR coalesce(r.active, 0) > coalesce(p.per_customer_limit, 2147483647);

	-- status combinations no path may produce
	RETURN QUERY
	SELECT 'status_combination', o.shop_id,
		   format('order %s: %s / %s / %s%s', o.order_id, o.status, o.payment_status,
				  o.delivery_status, CASE WHEN o.archived_at IS NOT NULL THEN ' / archived' ELSE '' END)
	FROM order_mgmt.orders o
	WHERE (p_shop IS NULL OR o.shop_id = p_shop)
	  AND ((o.status = 'cancelled' AND o.delivery_status NOT IN
				('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue'))
		   OR ((o.status = 'cancelled') <> (o.cancelled_at IS NOT NULL))
		   OR (o.archived_at IS NOT NULL AND o.status NOT IN ('completed', 'cancelled'))
		   OR o.refunded_amount > o.paid_amount);

	-- the order's money is the sum of its succeeded payments and refunds
	RETURN QUERY
	SELECT 'money', o.shop_id,
		   format('order %s: paid_amount %s, succeeded charges %s; refunded_amount %s, succeeded refunds %s',
				  o.order_id, o.paid_amount, coalesce(p.charged, 0), o.refunded_amount, coalesce(p.refunded, 0))
	FROM order_mgmt.orders o
	LEFT JOIN (SELECT shop_id, order_id,
					  sum(amount) FILTER (WHERE kind = 'charge') AS charged,
					  sum(amount) FILTER (WHERE kind = 'refund') AS refunded
			   FROM order_mgmt.payment
			   WHERE status = 'succeeded' AND (p_shop IS NULL OR shop_id = p_shop)
			   GROUP BY shop_id, order_id) p
		ON p.shop_id = o.shop_id AND p.order_id = o.order_id
	WHERE (p_shop IS NULL OR o.shop_id = p_shop)
	  AND (o.paid_amount <> coalesce(p.charged, 0) OR o.refunded_amount <> coalesce(p.refunded, 0));

	-- reward points: earned only by completed orders, never reversed beyond what was earned
	RETURN QUERY
	SELECT 'rewards', r.shop_id,
		   format('order %s (%s): earned %s, reversed %s', r.order_id, o.status, r.earned, r.reversed)
	FROM (SELECT shop_id, order_id,
				 coalesce(sum(points) FILTER (WHERE kind = 'earned'), 0) AS earned,
				 coalesce(sum(points) FILTER (WHERE kind = 'reversed'), 0) AS reversed
		  FROM order_mgmt.reward_ledger
		  WHERE p_shop IS NULL OR shop_id = p_shop
		  GROUP BY shop_id, order_id) r
	JOIN order_mgmt.orders o ON o.shop_id = r.shop_id AND o.order_id = r.order_id
	WHERE r.reversed > r.earned OR (r.earned > 0 AND o.status <> 'completed');

	-- order lines, in one pass: returned units never more than shipped and
	-- only from shipped orders; each line carries its order's creation time
	-- (the variant-mix report reads it).  An exchange holds its replacement
	-- only while the request is open.
	RETURN QUERY
	SELECT c.name, l.shop_id,
		   CASE c.name
			   WHEN 'returns' THEN format('order %s line %s (%s): qty %s, returned %s, shipped %s',
										  l.order_id, l.line_no, l.sku, l.qty, l.returned_qty,
										  o.shipped_at IS NOT NULL)
			   ELSE format('order %s line %s: ordered_at %s, order created %s', l.order_id, l.line_no,
						   l.ordered_at, o.created_at) END
	FROM order_mgmt.order_line l
	JOIN order_mgmt.orders o ON o.shop_id = l.shop_id AND o.order_id = l.order_id
	CROSS JOIN LATERAL (VALUES
		('returns', l.returned_qty > l.qty OR (l.returned_qty > 0 AND o.shipped_at IS NULL)),
		('line_time', l.ordered_at <> o.created_at)) c(name, bad)
	WHERE (p_shop IS NULL OR l.shop_id = p_shop) AND c.bad;
	RETURN QUERY
	SELECT 'exchange_hold', r.shop_id,
		   format('return %s is %s but reservation %s of sku %s is held', r.return_id, q.state,
				  r.reservation_id, r.sku)
	FROM order_mgmt.reservation r
	JOIN order_mgmt.return_request q ON q.shop_id = r.shop_id AND q.return_id = r.return_id
	WHERE (p_shop IS NULL OR r.shop_id = p_shop)
	  AND r.state = 'held' AND q.state NOT IN ('requested', 'approved', 'received');

	-- every status an order is in was reached by a logged move, and the
	-- logged moves of each machine chain from the initial status
	RETURN QUERY
	WITH machine AS (
		SELECT o.shop_id, o.order_id, m.machine, m.current, m.initial
		FROM order_mgmt.orders o
		CROSS JOIN LATERAL (VALUES
			('order_status', o.status::text, 'pending'),
			('payment_status', o.payment_status::text, 'unpaid'),
			('delivery_status', o.delivery_status::text,
			 CASE WHEN o.logistics = 'standard' THEN 'unfulfilled' ELSE 'not_executed' END)
		) AS m(machine, current, initial)
		WHERE p_shop IS NULL OR o.shop_id = p_shop
	), moves AS (
		SELECT m.shop_id, m.order_id, m.machine, m.current, m.initial, e.event_id,
			   e.from_value, e.to_value,
			   lag(e.to_value, 1, m.initial) OVER w AS expected_from,
			   row_number() OVER (PARTITION BY m.shop_id, m.order_id, m.machine
								  ORDER BY e.event_id DESC) AS newest
		FROM machine m
		LEFT JOIN order_mgmt.order_event e
			ON e.shop_id = m.shop_id AND e.order_id = m.order_id
		   AND e.kind = m.machine::order_mgmt.event_kind
		WINDOW w AS (PARTITION BY m.shop_id, m.order_id, m.machine ORDER BY e.event_id)
	)
	SELECT 'event_log', shop_id,
		   CASE WHEN event_id IS NOT NULL AND from_value IS DISTINCT FROM expected_from
				THEN format('order %s: %s event %s moves from %s, but the status was %s',
							order_id, machine, event_id, from_value, expected_from)
				ELSE format('order %s: %s is %s, but its event log ends at %s',
							order_id, machine, current, coalesce(to_value, initial))
		   END
	FROM moves
	WHERE (event_id IS NOT NULL AND from_value IS DISTINCT FROM expected_from)
	   OR (newest = 1 AND current <> coalesce(to_value, initial));
END
$$;
COMMENT ON FUNCTION order_mgmt.check_invariants(bigint) IS
	'The checks behind order_mgmt.verify(); NULL checks every shop';

-- verify() takes and returns a column named shop_id, which PL/pgSQL cannot
-- declare twice, so a small C function runs the checks.
CREATE FUNCTION order_mgmt.verify(shop_id bigint DEFAULT NULL)
	RETURNS TABLE (check_name text, shop_id bigint, detail text)
	AS 'MODULE_PATHNAME', 'om_verify'
	LANGUAGE C STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.verify(bigint) IS
	'Checks the invariants (stock vs ledger, promo use, status combinations, event log); returns one row per violation, none when consistent';

-- Reports for DBAs (SPEC §14, seeds 002-004).  Days are shop-local
-- (shop.timezone); date ranges include both ends.  PL/pgSQL rather than
-- SQL functions, so that Citus can plan them (SPEC §18).  They run with
-- jit = off: the planner cannot size a per-day range scan, its cost estimate
-- passes jit_above_cost, and compiling then took 0.2 s of a 0.8 s report while
-- the scans it would speed up take less.  They also run with
-- plan_cache_mode = force_custom_plan: PL/pgSQL caches each query's plan, and
-- from the sixth call in a session it may keep a generic plan, one that does
-- not see the shop's size or the range's width.  A dashboard polling over
-- one connection then got the 6th and later calls up to 2.5 times slower
-- (report_recovery 400 -> 1,000 ms at 1M orders); planning costs about 1 ms.

CREATE INDEX orders_cancelled ON order_mgmt.orders (shop_id, cancelled_at) INCLUDE (order_id)
	WHERE cancelled_at IS NOT NULL;
-- variant mix: the cancelled orders by creation time, and a product's lines
-- by SKU and order time, read from the indexes only
CREATE INDEX orders_cancelled_created ON order_mgmt.orders (shop_id, created_at) INCLUDE (order_id)
	WHERE status = 'cancelled';
CREATE INDEX order_line_sku_ordered ON order_mgmt.order_line (shop_id, sku, ordered_at)
	INCLUDE (order_id, qty, returned_qty);
CREATE INDEX orders_open_payment ON order_mgmt.orders (shop_id, created_at)
	WHERE status <> 'cancelled' AND payment_status IN ('unpaid', 'pending', 'failed');
CREATE INDEX orders_customer_paid ON order_mgmt.orders (shop_id, customer_id, created_at)
	WHERE paid_at IS NOT NULL;
CREATE INDEX order_event_recovery ON order_mgmt.order_event (shop_id, at)
	WHERE kind IN ('payment_status', 'order_status') AND to_value IN ('failed', 'cancelled', 'paid');

-- The instants a shop-local day range covers.
CREATE FUNCTION order_mgmt.shop_day_range(p_shop bigint, from_day date, to_day date,
		OUT tz text, OUT lo timestamptz, OUT hi timestamptz)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, order_mgmt, pg_temp
AS $$
BEGIN
	SELECT s.timezone INTO tz FROM order_mgmt.shop s WHERE s.shop_id = p_shop;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'shop % does not exist', p_shop USING ERRCODE = 'OM014',
			HINT = 'Create it with order_mgmt.create_shop().';
	END IF;
	IF from_day IS NULL OR to_day IS NULL THEN
		RAISE EXCEPTION 'from_day and to_day must not be null' USING ERRCODE = '22023';
	END IF;
	IF to_day < from_day THEN
		RAISE EXCEPTION 'to_day must not be before from_day'
			USING ERRCODE = '22023', DETAIL = format('Got %s to %s.', from_day, to_day);
	END IF;
	lo := from_day::timestamp AT TIME ZONE tz;
	hi := (to_day + 1)::timestamp AT TIME ZONE tz;
END
$$;
COMMENT ON FUNCTION order_mgmt.shop_day_range(bigint, date, date) IS
	'The time zone of a shop and the instants its local days from_day..to_day cover (helper of the reports)';

CREATE FUNCTION order_mgmt.report_daily_breakdown(shop_id bigint, from_day date, to_day date)
	RETURNS TABLE (day date, orders bigint, total numeric, unpaid numeric, paid_unshipped numeric,
				   shipped numeric, settled numeric, closed_unpaid numeric, refunded numeric)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	r := order_mgmt.shop_day_range(report_daily_breakdown.shop_id, from_day, to_day);
	RETURN QUERY
	-- one index range scan per shop-local day: 90 days, 90 groups.  Each
	-- order gets its bucket once and is summed into (day, bucket): cheaper
	-- than evaluating one FILTER per bucket on every row (1M orders 0.59 s
	-- -> 0.39 s).
	WITH o AS (
		SELECT d.day,
			   CASE WHEN o.status = 'cancelled' THEN 5			-- closed_unpaid
					WHEN o.status = 'completed' THEN 4			-- settled
					WHEN o.payment_status IN ('unpaid', 'pending', 'failed') THEN 1
					WHEN o.delivery_status IN ('unfulfilled', 'not_executed', 'shipment_cancelled',
											   'shipping_overdue') THEN 2	-- paid_unshipped
					ELSE 3 END AS bucket,						-- shipped
			   o.total,
			   -- money returned or owed back: all of a cancelled order that got money
			   CASE WHEN o.status = 'cancelled' AND o.paid_amount > 0 THEN o.total
					ELSE least(o.refunded_amount, o.total) END AS back
		FROM (SELECT g::date AS day FROM generate_series(from_day, to_day, interval '1 day') g) d
		JOIN order_mgmt.orders o
		  ON o.shop_id = report_daily_breakdown.shop_id
		 AND o.created_at >= d.day::timestamp AT TIME ZONE r.tz
		 AND o.created_at < (d.day + 1)::timestamp AT TIME ZONE r.tz
	), b AS (
		SELECT o.day, o.bucket, count(*) AS n, sum(o.total) AS total, sum(o.back) AS back
		FROM o GROUP BY o.day, o.bucket
	)
	SELECT b.day, sum(b.n)::bigint, sum(b.total),
		   coalesce(sum(b.total - b.back) FILTER (WHERE b.bucket = 1), 0),
		   coalesce(sum(b.total - b.back) FILTER (WHERE b.bucket = 2), 0),
		   coalesce(sum(b.total - b.back) FILTER (WHERE b.bucket = 3), 0),
		   coalesce(sum(b.total - b.back) FILTER (WHERE b.bucket = 4), 0),
		   coalesce(sum(b.total - b.back) FILTER (WHERE b.bucket = 5), 0),
		   coalesce(sum(b.back), 0)
	FROM b GROUP BY b.day ORDER BY b.day;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_daily_breakdown(bigint, date, date) IS
	'Order value per shop-local creation day, split so that total = unpaid + paid_unshipped + shipped + settled + closed_unpaid + refunded (seed 002)';

CREATE FUNCTION order_mgmt.report_lost_orders(shop_id bigint, from_day date, to_day date)
	RETURNS TABLE (day date, orders bigint, closed bigint, lost_rate numeric,
				   closed_after_support bigint, closed_self_service bigint)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	r := order_mgmt.shop_day_range(report_lost_orders.shop_id, from_day, to_day);
	RETURN QUERY
	WITH o AS (
		SELECT d.day, o.status = 'cancelled' AND o.paid_at IS NULL AND o.paid_amount = 0 AS lost,
			   o.consulted_support
		FROM (SELECT g::date AS day FROM generate_series(from_day, to_day, interval '1 day') g) d
		JOIN order_mgmt.orders o
		  ON o.shop_id = report_lost_orders.shop_id
		 AND o.created_at >= d.day::timestamp AT TIME ZONE r.tz
		 AND o.created_at < (d.day + 1)::timestamp AT TIME ZONE r.tz
	)
	SELECT o.day, count(*), count(*) FILTER (WHERE o.lost),
		   round(count(*) FILTER (WHERE o.lost)::numeric / count(*), 4),
		   count(*) FILTER (WHERE o.lost AND o.consulted_support),
		   count(*) FILTER (WHERE o.lost AND NOT o.consulted_support)
	FROM o GROUP BY o.day ORDER BY o.day;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_lost_orders(bigint, date, date) IS
	'Orders per creation day and those cancelled without ever being paid (lost), split by whether the customer talked to support (seed 002)';

CREATE FUNCTION order_mgmt.report_cancel_reasons(shop_id bigint, from_day date, to_day date)
	RETURNS TABLE (reason order_mgmt.cancel_reason, source order_mgmt.cancel_source, orders bigint,
				   amount numeric, share numeric)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	r := order_mgmt.shop_day_range(report_cancel_reasons.shop_id, from_day, to_day);
	RETURN QUERY
	SELECT o.cancel_reason, o.cancel_source, count(*), sum(o.total),
		   round(count(*)::numeric / sum(count(*)) OVER (), 4)
	FROM order_mgmt.orders o
	WHERE o.shop_id = report_cancel_reasons.shop_id AND o.cancelled_at >= r.lo AND o.cancelled_at < r.hi
	GROUP BY o.cancel_reason, o.cancel_source
	ORDER BY count(*) DESC, o.cancel_reason, o.cancel_source;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_cancel_reasons(bigint, date, date) IS
	'Why orders were cancelled and by whom, by shop-local cancel day: orders, amount, share (seeds 002, 003)';

CREATE FUNCTION order_mgmt.report_followups(shop_id bigint)
	RETURNS TABLE (order_id bigint, order_no text, customer_id text, email text, total numeric,
				   payment_status order_mgmt.payment_status, created_at timestamptz, channel text, why text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	s order_mgmt.shop;
	recent_since timestamptz;
BEGIN
	SELECT * INTO s FROM order_mgmt.shop x WHERE x.shop_id = report_followups.shop_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'shop % does not exist', report_followups.shop_id USING ERRCODE = 'OM014';
	END IF;
	recent_since := order_mgmt.now() - s.followup_window;
	RETURN QUERY
	SELECT o.order_id, o.order_no, o.customer_id, o.email, o.total, o.payment_status, o.created_at,
		   CASE WHEN f.returning OR f.high_value OR f.noted THEN 'phone'
				WHEN o.created_at > recent_since THEN 'sms'
				ELSE 'message' END,
		   concat_ws(', ',
					 CASE WHEN f.returning THEN 'returning customer' END,
					 CASE WHEN f.high_value THEN 'high value' END,
					 CASE WHEN f.noted THEN 'customer note' END,
					 CASE WHEN NOT (f.returning OR f.high_value OR f.noted)
						  AND o.created_at > recent_since THEN 'recent' END)
	FROM order_mgmt.orders o
	-- each customer's first paid order, once, rather than a probe per order
	LEFT JOIN (SELECT p.customer_id, min(p.created_at) AS first_paid
			   FROM order_mgmt.orders p
			   WHERE p.shop_id = report_followups.shop_id AND p.paid_at IS NOT NULL
				 AND p.customer_id IS NOT NULL
			   GROUP BY p.customer_id) fp ON fp.customer_id = o.customer_id
	CROSS JOIN LATERAL (SELECT
		coalesce(fp.first_paid < o.created_at, false) AS returning,
		s.high_value_threshold IS NOT NULL AND o.total >= s.high_value_threshold AS high_value,
		o.customer_note IS NOT NULL AS noted) f
	WHERE o.shop_id = report_followups.shop_id AND o.status <> 'cancelled'
	  AND o.payment_status IN ('unpaid', 'pending', 'failed')
	ORDER BY o.total DESC, o.created_at, o.order_id;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_followups(bigint) IS
	'Unpaid or failed orders to follow up, most valuable first: phone for returning, high-value or noted customers, SMS within followup_window, else a message (seed 002)';

CREATE FUNCTION order_mgmt.report_recovery(shop_id bigint, from_day date, to_day date)
	RETURNS TABLE (day date, failed_or_cancelled bigint, recovered bigint, recovery_rate numeric)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	r := order_mgmt.shop_day_range(report_recovery.shop_id, from_day, to_day);
	RETURN QUERY
	WITH x AS (
		-- the failures, cancellations and payments of the shop's orders, once
		SELECT e.order_id,
			   min(e.event_id) FILTER (WHERE (e.kind = 'payment_status' AND e.to_value = 'failed')
										OR (e.kind = 'order_status' AND e.to_value = 'cancelled')) AS lost_at,
			   max(e.event_id) FILTER (WHERE e.kind = 'payment_status' AND e.to_value = 'paid') AS paid_after
		FROM order_mgmt.order_event e
		WHERE e.shop_id = report_recovery.shop_id AND e.kind IN ('payment_status', 'order_status')
		  AND e.to_value IN ('failed', 'cancelled', 'paid') AND e.at >= r.lo
		GROUP BY e.order_id
	), o AS (
		-- only the orders that failed or were cancelled, found by key
		SELECT (o.created_at AT TIME ZONE r.tz)::date AS day, x.lost_at, x.paid_after
		FROM x JOIN order_mgmt.orders o ON o.shop_id = report_recovery.shop_id AND o.order_id = x.order_id
		WHERE x.lost_at IS NOT NULL AND o.created_at >= r.lo AND o.created_at < r.hi
	)
	SELECT o.day, count(*) FILTER (WHERE o.lost_at IS NOT NULL),
		   count(*) FILTER (WHERE o.paid_after > o.lost_at),
		   CASE WHEN count(*) FILTER (WHERE o.lost_at IS NOT NULL) > 0
				THEN round(count(*) FILTER (WHERE o.paid_after > o.lost_at)::numeric
						   / count(*) FILTER (WHERE o.lost_at IS NOT NULL), 4) END
	FROM o GROUP BY o.day ORDER BY o.day;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_recovery(bigint, date, date) IS
	'Orders per creation day whose payment failed or that were cancelled, and how many were paid afterwards (seed 002: about 40% recovered)';

CREATE FUNCTION order_mgmt.report_variant_mix(shop_id bigint, product_id text, from_day date, to_day date,
		restock_qty integer DEFAULT NULL)
	RETURNS TABLE (attribute text, value text, qty bigint, share numeric, restock integer)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
	-- The planner sizes the product's lines from the SKU filter and the
	-- range as a few thousand when it can be every line of the shop, and then
	-- sorts them all for a merge anti join (spilling 40 MB at a million
	-- lines).  Hashing the cancelled orders and probing with the lines does
	-- not depend on that estimate: 350 ms instead of 520 ms at 1M orders.
	SET enable_mergejoin = off
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	r := order_mgmt.shop_day_range(report_variant_mix.shop_id, from_day, to_day);
	IF restock_qty < 0 THEN
		RAISE EXCEPTION 'restock_qty must not be negative' USING ERRCODE = '22023';
	END IF;
	RETURN QUERY
	-- the product's lines by SKU and order time, read from one index; the
	-- cancelled orders created in the range, from theirs, are left out with
	-- one hash or merge.  (Given the plain NOT EXISTS, the planner, misjudging the
	-- product's share of the lines, sometimes probed each line's order: 4 s
	-- instead of 0.4 s at a million lines.)  enable_mergejoin = off above
	-- makes that one a hash.
	WITH gone AS MATERIALIZED (
		SELECT c.order_id FROM order_mgmt.orders c
		WHERE c.shop_id = report_variant_mix.shop_id AND c.status = 'cancelled'
		  AND c.created_at >= r.lo AND c.created_at < r.hi
	), per_sku AS (
		SELECT l.sku, sum(l.qty - l.returned_qty) AS qty
		FROM order_mgmt.sku k
		JOIN order_mgmt.order_line l ON l.shop_id = k.shop_id AND l.sku = k.sku
		WHERE k.shop_id = report_variant_mix.shop_id AND k.product_id = report_variant_mix.product_id
		  AND l.ordered_at >= r.lo AND l.ordered_at < r.hi
		  AND NOT EXISTS (SELECT FROM gone g WHERE g.order_id = l.order_id)
		GROUP BY l.sku
	), sold AS (
		SELECT a.key AS attribute, a.value #>> '{}' AS value, sum(p.qty)::bigint AS qty
		FROM per_sku p
		JOIN order_mgmt.sku k ON k.shop_id = report_variant_mix.shop_id AND k.sku = p.sku
		CROSS JOIN LATERAL jsonb_each(k.attrs) a
		GROUP BY 1, 2
	)
	SELECT s.attribute, s.value, s.qty,
		   round(s.qty::numeric / nullif(sum(s.qty) OVER (PARTITION BY s.attribute), 0), 4),
		   CASE WHEN restock_qty IS NOT NULL
				THEN round(restock_qty * s.qty::numeric / nullif(sum(s.qty) OVER (PARTITION BY s.attribute), 0))::int END
	FROM sold s ORDER BY s.attribute, s.qty DESC, s.value;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_variant_mix(bigint, text, date, date, integer) IS
	'Units of a product sold per variant attribute and value, their share, and restock_qty split by that share (seed 002)';

CREATE FUNCTION order_mgmt.report_stuck(shop_id bigint, older_than interval)
	RETURNS TABLE (order_id bigint, order_no text, status order_mgmt.order_status,
				   payment_status order_mgmt.payment_status, delivery_status order_mgmt.delivery_status,
				   since timestamptz, waiting interval, reason text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	-- once, rather than for each order the scan filters
	now_ timestamptz := order_mgmt.now();
BEGIN
	IF older_than IS NULL OR older_than < interval '0' THEN
		RAISE EXCEPTION 'older_than must be a non-negative interval' USING ERRCODE = '22023';
	END IF;
	PERFORM FROM order_mgmt.shop s WHERE s.shop_id = report_stuck.shop_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'shop % does not exist', report_stuck.shop_id USING ERRCODE = 'OM014';
	END IF;
	RETURN QUERY
	SELECT o.order_id, o.order_no, o.status, o.payment_status, o.delivery_status, x.since,
		   now_ - x.since, x.reason
	FROM order_mgmt.orders o
	CROSS JOIN LATERAL (SELECT
		CASE WHEN o.payment_status IN ('unpaid', 'pending', 'failed') THEN o.created_at ELSE o.paid_at END AS since,
		CASE o.payment_status
			WHEN 'unpaid' THEN 'not paid'
			WHEN 'pending' THEN 'payment still pending'
			WHEN 'failed' THEN 'payment failed'
			ELSE 'paid but not shipped' END AS reason) x
	WHERE o.shop_id = report_stuck.shop_id AND o.status NOT IN ('cancelled', 'completed')
	  AND (o.payment_status IN ('unpaid', 'pending', 'failed')
		   OR (o.payment_status = 'paid'
			   AND o.delivery_status IN ('unfulfilled', 'not_executed', 'shipment_cancelled', 'shipping_overdue')))
	  AND x.since < now_ - older_than
	ORDER BY x.since, o.order_id;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_stuck(bigint, interval) IS
	'Live orders waiting longer than older_than for payment, or paid and not shipped, with the reason (seed 004)';

CREATE FUNCTION order_mgmt.report_cancellations(shop_id bigint, from_day date, to_day date)
	RETURNS TABLE (day date, order_id bigint, order_no text, customer_id text, email text,
				   products text, total numeric, reason order_mgmt.cancel_reason,
				   source order_mgmt.cancel_source, note text, feedback text, score integer)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp
	SET jit = off
	SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	r := order_mgmt.shop_day_range(report_cancellations.shop_id, from_day, to_day);
	-- One pass over the cancelled orders joined to their lines.  The products
	-- list is a window aggregate over each order's lines in line_no order (a
	-- ROWS frame feeds the aggregate in the window's order); the first line's
	-- row carries the whole frame and stands for the order.  Partitioning by
	-- (cancelled_at, order_id), which is the same partition as by order_id,
	-- makes the window's sort also the report's order, so nothing is sorted
	-- twice and orders is read once.  It replaced a string_agg(... ORDER BY)
	-- grouped by order and joined back to orders: 600 -> 470 ms over 150,000
	-- cancelled orders (PostgreSQL 15 sorts each group of an ordered aggregate
	-- on its own).
	RETURN QUERY
	SELECT x.day, x.order_id, x.order_no, x.customer_id, x.email, x.products, x.total,
		   x.cancel_reason, x.cancel_source, x.cancel_note, x.comment, x.score
	FROM (SELECT (o.cancelled_at AT TIME ZONE r.tz)::date AS day, o.cancelled_at, o.order_id, o.order_no,
				 o.customer_id, o.email, o.total, o.cancel_reason, o.cancel_source, o.cancel_note,
				 f.comment, f.score,
				 string_agg(l.qty || ' x ' || coalesce(k.title, l.sku), ', ') OVER w AS products,
				 row_number() OVER w AS n
		  FROM order_mgmt.orders o
		  JOIN order_mgmt.order_line l ON l.shop_id = o.shop_id AND l.order_id = o.order_id
		  JOIN order_mgmt.sku k ON k.shop_id = l.shop_id AND k.sku = l.sku
		  LEFT JOIN order_mgmt.cancel_feedback f ON f.shop_id = o.shop_id AND f.order_id = o.order_id
		  WHERE o.shop_id = report_cancellations.shop_id AND o.cancelled_at >= r.lo AND o.cancelled_at < r.hi
		  WINDOW w AS (PARTITION BY o.cancelled_at, o.order_id ORDER BY l.line_no
					   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) x
	WHERE x.n = 1
	ORDER BY x.cancelled_at, x.order_id;
END
$$;
COMMENT ON FUNCTION order_mgmt.report_cancellations(bigint, date, date) IS
	'Cancelled orders by shop-local cancel day: customer, products, reason, source and feedback (seed 003)';

-- Roles and privileges (SPEC §17).  Roles are created when absent; they are
-- cluster-wide and outlive the extension.

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
	order_mgmt.label(anyenum, text), order_mgmt.format_money(numeric, text, text) TO PUBLIC;
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

-- merchant operations and settings
GRANT EXECUTE ON FUNCTION
	order_mgmt.create_shop(bigint, text, text, text, text),
	order_mgmt.update_shop(bigint, jsonb),
	order_mgmt.upsert_sku(bigint, text, numeric, text, text, jsonb, boolean, boolean, integer, boolean),
	order_mgmt.set_stock(bigint, text, integer),
	order_mgmt.adjust_stock(bigint, text, integer, text),
	order_mgmt.upsert_customer(bigint, text, text, boolean, text, text)
	TO order_mgmt_admin;
-- admins may also move orders by hand; the guard triggers still judge every move
GRANT UPDATE (status, payment_status, delivery_status, admin_note, shipping_note,
	customer_note, consulted_support) ON order_mgmt.orders TO order_mgmt_admin;
GRANT INSERT, UPDATE, DELETE ON order_mgmt.status_label TO order_mgmt_admin;

GRANT EXECUTE ON FUNCTION
	order_mgmt.create_promo(bigint, text, order_mgmt.promo_kind, numeric, integer, integer, numeric, timestamptz, timestamptz, text),
	order_mgmt.issue_winback_code(bigint, bigint, order_mgmt.promo_kind, numeric, interval),
	order_mgmt.confirm(bigint, bigint),
	order_mgmt.reactivate(bigint, bigint, order_mgmt.order_status),
	order_mgmt.mark_paid(bigint, bigint, text),
	order_mgmt.refund(bigint, bigint, numeric, text, text),
	order_mgmt.run_due(integer),
	order_mgmt.set_delivery_status(bigint, bigint, order_mgmt.delivery_status, text, text),
	order_mgmt.ship(bigint, bigint, text, text),
	order_mgmt.complete(bigint, bigint),
	order_mgmt.archive(bigint, bigint),
	order_mgmt.unarchive(bigint, bigint),
	order_mgmt.add_note(bigint, bigint, order_mgmt.note_kind, text),
	order_mgmt.create_rule(bigint, text, order_mgmt.payment_status[], order_mgmt.delivery_status[], interval),
	order_mgmt.approve_return(bigint, bigint),
	order_mgmt.reject_return(bigint, bigint, text),
	order_mgmt.receive_return(bigint, bigint, boolean),
	order_mgmt.ship_exchange(bigint, bigint, text, text),
	order_mgmt.credit_note(bigint, bigint)
	TO order_mgmt_admin;

-- the shop backend: what a storefront and a payment callback do
GRANT EXECUTE ON FUNCTION
	order_mgmt.upsert_customer(bigint, text, text, boolean, text, text),
	order_mgmt.checkout(bigint, jsonb, text, text, text, text, order_mgmt.logistics_kind, numeric, text, interval, interval, text),
	order_mgmt.cancel(bigint, bigint, order_mgmt.cancel_reason, text, order_mgmt.cancel_source),
	order_mgmt.payment_started(bigint, bigint, text),
	order_mgmt.payment_succeeded(bigint, bigint, numeric, text, text),
	order_mgmt.payment_failed(bigint, bigint, text, text),
	order_mgmt.events_since(bigint, bigint, integer),
	order_mgmt.customer_cancel(bigint, bigint, text, order_mgmt.cancel_reason, text),
	order_mgmt.can_customer_cancel(bigint, bigint, text),
	order_mgmt.record_feedback(bigint, bigint, order_mgmt.cancel_reason, text, integer),
	order_mgmt.add_lines(bigint, bigint, jsonb),
	order_mgmt.request_return(bigint, bigint, jsonb, text),
	order_mgmt.request_exchange(bigint, bigint, text, text, integer),
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
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.status_label', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.shipment', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.automation_rule', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.reward_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('order_mgmt.cancel_feedback', '');
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
