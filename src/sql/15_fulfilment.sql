
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
