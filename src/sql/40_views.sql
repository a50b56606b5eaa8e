
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
