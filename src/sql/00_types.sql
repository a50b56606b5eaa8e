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
	 'shipping', 'shipped', 'arrived', 'collected', 'returning', 'returned',
	 -- issue 17 item 9, added by 0.2.0 (ALTER TYPE ... ADD VALUE appends)
	 'partially_shipped');
COMMENT ON TYPE order_mgmt.delivery_status IS
	'Delivery status machine (SPEC §3.3); moves are listed in order_mgmt.transitions; partially_shipped: some lines went out in packages, others wait';

CREATE TYPE order_mgmt.logistics_kind AS ENUM ('standard', 'integrated', 'cod');
COMMENT ON TYPE order_mgmt.logistics_kind IS
	'standard starts delivery unfulfilled; integrated (carrier-integrated) and cod (cash on delivery) start not_executed';

CREATE TYPE order_mgmt.cancel_source AS ENUM ('customer', 'merchant', 'system');
COMMENT ON TYPE order_mgmt.cancel_source IS 'Who cancelled an order';

CREATE TYPE order_mgmt.cancel_reason AS ENUM
	('changed_mind', 'found_better_price', 'shipping_cost', 'delivery_time',
	 'payment_failed', 'payment_timeout', 'out_of_stock', 'size_unavailable',
	 'wrong_item', 'duplicate_order', 'fraud_suspected', 'other',
	 -- issue 17 item 7, added by 0.2.0 (ALTER TYPE ... ADD VALUE appends)
	 'impulse', 'insufficient_funds', 'poor_service', 'price_not_agreed',
	 'slow_service', 'return_policy', 'payment_method', 'forced_account');
COMMENT ON TYPE order_mgmt.cancel_reason IS
	'Why an order was cancelled: the closing reasons of seeds 002 (impulse, insufficient_funds, found_better_price, poor_service, price_not_agreed, size_unavailable, slow_service) and 003 (changed_mind, shipping_cost, delivery_time, return_policy, payment_method, forced_account), and the system''s';

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
	 'archive', 'unarchive', 'return', 'reward', 'deadline',
	 -- issue 17 item 9, added by 0.2.0 (ALTER TYPE ... ADD VALUE appends)
	 'shipment', 'tracking',
	 -- issue 17 item 11, added by 0.2.0
	 'store_credit',
	 -- issue 18, added by 0.2.0
	 'edit',
	 -- issue 18 (addresses and erasure), added by 0.2.0
	 'address', 'erasure');
COMMENT ON TYPE order_mgmt.event_kind IS
	'Kinds of order_event rows (SPEC §12): a status machine for a transition, else a side effect; shipment: a package shipped or moved, tracking: its carrier, tracking number or expected delivery changed; address: a shipping or billing address was set (which fields, not their values); erasure: the customer''s personal data on the order was erased';

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

-- issue 17 item 10, seed 001's returns: the way back and the way the money goes
CREATE TYPE order_mgmt.return_method AS ENUM
	('convenience_store', 'carrier_pickup', 'mail', 'in_store', 'other');
COMMENT ON TYPE order_mgmt.return_method IS
	'How returned goods travel back (seed 001): dropped at a convenience store (7-11 C2B reverse logistics), collected by a carrier, mailed by the customer, brought to a shop, or other';

CREATE TYPE order_mgmt.refund_method AS ENUM
	('card', 'bank_transfer', 'store_credit', 'cash', 'other');
COMMENT ON TYPE order_mgmt.refund_method IS
	'How a refund reaches the customer (seed 001): back to the card, by bank transfer, as store credit, in cash, or other';

CREATE TYPE order_mgmt.reward_unit AS ENUM ('points', 'store_credit');
COMMENT ON TYPE order_mgmt.reward_unit IS
	'What a shop''s rewards are paid in (seed 001): reward points, or store credit (購物金) spendable at checkout (SPEC §9)';

CREATE TYPE order_mgmt.store_credit_kind AS ENUM
	('granted', 'adjusted', 'spent', 'returned', 'earned', 'reversed', 'refunded');
COMMENT ON TYPE order_mgmt.store_credit_kind IS
	'A movement of store credit: granted or adjusted by the merchant, spent at checkout, returned by a cancellation or return, earned as a reward, reversed by a refund, refunded (money refunded as credit)';
