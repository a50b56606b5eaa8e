
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
	expected_delivery date,
	delivered_at timestamptz,
	PRIMARY KEY (shop_id, shipment_id)
);
CREATE INDEX shipment_order ON order_mgmt.shipment (shop_id, order_id);
COMMENT ON TABLE order_mgmt.shipment IS 'Packages sent for an order (or an exchange''s replacement), with carrier and tracking number; an order may ship in several, its lines in shipment_line';
COMMENT ON COLUMN order_mgmt.shipment.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.shipment.shipment_id IS 'Shipment id';
COMMENT ON COLUMN order_mgmt.shipment.order_id IS 'The order shipped';
COMMENT ON COLUMN order_mgmt.shipment.return_id IS 'Set when the parcel is an exchange''s replacement';
COMMENT ON COLUMN order_mgmt.shipment.carrier IS 'Carrier (black cat, 7-11, Kerry ...)';
COMMENT ON COLUMN order_mgmt.shipment.tracking_no IS 'Package tracking number';
COMMENT ON COLUMN order_mgmt.shipment.status IS 'Delivery status of the package: shipping, shipped, arrived or collected';
COMMENT ON COLUMN order_mgmt.shipment.created_at IS 'When it was handed to the carrier (shipped)';
COMMENT ON COLUMN order_mgmt.shipment.updated_at IS 'Last change';
COMMENT ON COLUMN order_mgmt.shipment.expected_delivery IS 'When the customer can expect it (seed 004), as the merchant or carrier says';
COMMENT ON COLUMN order_mgmt.shipment.delivered_at IS 'When it first arrived or was collected';

CREATE TABLE order_mgmt.shipment_line (
	shop_id bigint NOT NULL,
	shipment_id bigint NOT NULL,
	order_id bigint NOT NULL,
	line_no integer NOT NULL,
	qty integer NOT NULL CHECK (qty > 0),
	PRIMARY KEY (shop_id, shipment_id, line_no),
	FOREIGN KEY (shop_id, shipment_id) REFERENCES order_mgmt.shipment,
	FOREIGN KEY (shop_id, order_id, line_no) REFERENCES order_mgmt.order_line
);
CREATE INDEX shipment_line_order ON order_mgmt.shipment_line (shop_id, order_id, line_no);
COMMENT ON TABLE order_mgmt.shipment_line IS 'What each package of an order holds: units of its order lines (issue 17 item 9); a line''s packages never hold more than it ordered';
COMMENT ON COLUMN order_mgmt.shipment_line.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.shipment_line.shipment_id IS 'The package';
COMMENT ON COLUMN order_mgmt.shipment_line.order_id IS 'The order (the package''s)';
COMMENT ON COLUMN order_mgmt.shipment_line.line_no IS 'The order line';
COMMENT ON COLUMN order_mgmt.shipment_line.qty IS 'Units of the line in this package';

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

-- Store credit (issue 17 item 11, seed 001's 購物金): a balance per customer,
-- changed only together with an entry of its append-only ledger
-- (src/store_credit.c).
CREATE TABLE order_mgmt.store_credit_balance (
	shop_id bigint NOT NULL,
	customer_id text NOT NULL,
	balance numeric NOT NULL CHECK (balance >= 0),
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, customer_id),
	FOREIGN KEY (shop_id, customer_id) REFERENCES order_mgmt.customer
);
COMMENT ON TABLE order_mgmt.store_credit_balance IS 'Store credit per customer: the sum of the customer''s store_credit_ledger, never negative; updated under its row lock';
COMMENT ON COLUMN order_mgmt.store_credit_balance.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.store_credit_balance.customer_id IS 'The customer';
COMMENT ON COLUMN order_mgmt.store_credit_balance.balance IS 'Credit the customer can spend, in the shop currency';
COMMENT ON COLUMN order_mgmt.store_credit_balance.updated_at IS 'Last movement';

CREATE SEQUENCE order_mgmt.store_credit_entry_id_seq;
COMMENT ON SEQUENCE order_mgmt.store_credit_entry_id_seq IS 'store_credit_ledger entry_id values';

CREATE TABLE order_mgmt.store_credit_ledger (
	shop_id bigint NOT NULL,
	entry_id bigint NOT NULL DEFAULT nextval('order_mgmt.store_credit_entry_id_seq'),
	customer_id text NOT NULL,
	order_id bigint,
	kind order_mgmt.store_credit_kind NOT NULL,
	amount numeric NOT NULL CHECK (amount <> 0),
	balance numeric NOT NULL CHECK (balance >= 0),
	reason text,
	actor text NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (shop_id, entry_id),
	FOREIGN KEY (shop_id, customer_id) REFERENCES order_mgmt.customer,
	CONSTRAINT store_credit_ledger_kind_check CHECK (CASE kind
		WHEN 'granted' THEN amount > 0 AND reason IS NOT NULL
		WHEN 'adjusted' THEN reason IS NOT NULL
		WHEN 'spent' THEN amount < 0 AND order_id IS NOT NULL
		WHEN 'reversed' THEN amount < 0 AND order_id IS NOT NULL
		ELSE amount > 0 AND order_id IS NOT NULL END)
);
CREATE INDEX store_credit_ledger_customer ON order_mgmt.store_credit_ledger (shop_id, customer_id, entry_id);
CREATE INDEX store_credit_ledger_order ON order_mgmt.store_credit_ledger (shop_id, order_id)
	WHERE order_id IS NOT NULL;
CREATE UNIQUE INDEX store_credit_earned_once ON order_mgmt.store_credit_ledger (shop_id, order_id)
	WHERE kind = 'earned';
COMMENT ON TABLE order_mgmt.store_credit_ledger IS 'Every movement of store credit, append-only: amount signed (+ in, - out), balance after it';
COMMENT ON COLUMN order_mgmt.store_credit_ledger.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.store_credit_ledger.entry_id IS 'Entry id, increasing';
COMMENT ON COLUMN order_mgmt.store_credit_ledger.customer_id IS 'Whose credit moved';
COMMENT ON COLUMN order_mgmt.store_credit_ledger.order_id IS 'The order it moved for; NULL for the merchant''s grants and adjustments';
COMMENT ON COLUMN order_mgmt.store_credit_ledger.kind IS 'granted, adjusted, spent, returned, earned, reversed or refunded';
COMMENT ON COLUMN order_mgmt.store_credit_ledger.amount IS 'Credit in (positive) or out (negative)';
COMMENT ON COLUMN order_mgmt.store_credit_ledger.balance IS 'The customer''s balance after this entry';
COMMENT ON COLUMN order_mgmt.store_credit_ledger.reason IS 'Why the merchant granted or adjusted it';
COMMENT ON COLUMN order_mgmt.store_credit_ledger.actor IS 'Calling role (as order_event.actor), or system for the sweeper';
COMMENT ON COLUMN order_mgmt.store_credit_ledger.created_at IS 'When (order_mgmt.now())';
COMMENT ON INDEX order_mgmt.store_credit_ledger_customer IS 'A customer''s credit history';
COMMENT ON INDEX order_mgmt.store_credit_ledger_order IS 'The credit an order spent and got back';
COMMENT ON INDEX order_mgmt.store_credit_earned_once IS 'Store credit is earned once per order';

CREATE TABLE order_mgmt.cancel_feedback (
	shop_id bigint NOT NULL,
	order_id bigint NOT NULL,
	reason order_mgmt.cancel_reason NOT NULL,
	comment text,
	score integer CHECK (score BETWEEN 1 AND 5),
	recorded_at timestamptz NOT NULL,
	feedback_no integer NOT NULL CHECK (feedback_no > 0),
	PRIMARY KEY (shop_id, order_id, feedback_no)
);
COMMENT ON TABLE order_mgmt.cancel_feedback IS 'Why a customer cancelled, in their words (seed 003): every feedback, the one with the highest feedback_no is the current one';
COMMENT ON COLUMN order_mgmt.cancel_feedback.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.cancel_feedback.order_id IS 'The cancelled order';
COMMENT ON COLUMN order_mgmt.cancel_feedback.reason IS 'Reason the customer chose';
COMMENT ON COLUMN order_mgmt.cancel_feedback.comment IS 'Free text';
COMMENT ON COLUMN order_mgmt.cancel_feedback.score IS 'Satisfaction 1-5';
COMMENT ON COLUMN order_mgmt.cancel_feedback.recorded_at IS 'When';
COMMENT ON COLUMN order_mgmt.cancel_feedback.feedback_no IS '1, 2, ... per order in the order recorded; the highest is the current feedback';

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
	method order_mgmt.return_method,
	carrier text,
	tracking_no text,
	store_credit numeric NOT NULL DEFAULT 0 CHECK (store_credit >= 0),
	PRIMARY KEY (shop_id, return_id)
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
COMMENT ON COLUMN order_mgmt.return_request.store_credit IS 'Store credit the order spent that this return gave back when received (its share of credit_applied); the money to refund is refund_amount - store_credit';
COMMENT ON COLUMN order_mgmt.return_request.updated_at IS 'Last change';
COMMENT ON COLUMN order_mgmt.return_request.method IS 'How the goods travel back (seed 001: 7-11 C2B is convenience_store)';
COMMENT ON COLUMN order_mgmt.return_request.carrier IS 'Carrier of the way back';
COMMENT ON COLUMN order_mgmt.return_request.tracking_no IS 'Tracking number of the way back; set_return_tracking changes it with a return event';

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

-- Addresses (issue 18): the personal data of an order lives here, apart from
-- its money and history, so that erase_customer() can blank it.
CREATE TABLE order_mgmt.order_address (
	shop_id bigint NOT NULL,
	order_id bigint NOT NULL,
	kind text NOT NULL CHECK (kind IN ('shipping', 'billing')),
	version integer NOT NULL CHECK (version > 0),
	address jsonb CHECK (jsonb_typeof(address) = 'object'),
	set_at timestamptz NOT NULL,
	actor text NOT NULL,
	erased_at timestamptz,
	PRIMARY KEY (shop_id, order_id, kind, version),
	CHECK (erased_at IS NULL OR address IS NULL)
);
COMMENT ON TABLE order_mgmt.order_address IS 'Shipping and billing addresses of orders, versioned: a change adds a version, the newest is the current one; erase_customer blanks every version (issue 18)';
COMMENT ON COLUMN order_mgmt.order_address.shop_id IS 'Owning shop';
COMMENT ON COLUMN order_mgmt.order_address.order_id IS 'The order';
COMMENT ON COLUMN order_mgmt.order_address.kind IS 'shipping or billing';
COMMENT ON COLUMN order_mgmt.order_address.version IS 'Version of this kind of address of the order, from 1 (set at checkout or by the first set_address)';
COMMENT ON COLUMN order_mgmt.order_address.address IS 'The address: an object with keys name, line1, line2, city, region, postal_code, country (ISO 3166-1 alpha-2), phone; NULL when removed or erased';
COMMENT ON COLUMN order_mgmt.order_address.set_at IS 'When this version was set (order_mgmt.now())';
COMMENT ON COLUMN order_mgmt.order_address.actor IS 'Calling role that set it (as order_event.actor)';
COMMENT ON COLUMN order_mgmt.order_address.erased_at IS 'When erase_customer or erase_guest blanked it; NULL if never erased';
