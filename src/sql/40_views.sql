
-- Views for DBAs.

CREATE VIEW order_mgmt.transitions AS
	SELECT machine, from_value, to_value, via FROM order_mgmt.transition_table();
COMMENT ON VIEW order_mgmt.transitions IS
	'Every allowed status move (SPEC §3; the payment moves via edit_order are made only by edit_order()); anything else fails with OM005';
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
		   count(r.order_id) FILTER (WHERE r.state = 'released') AS released,
		   CASE WHEN p.scope_products IS NULL AND p.scope_skus IS NULL THEN 'all'
				ELSE pg_catalog.concat_ws('; ',
										  'products: ' || pg_catalog.array_to_string(p.scope_products, ', '),
										  'skus: ' || pg_catalog.array_to_string(p.scope_skus, ', '))
		   END AS scope
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
COMMENT ON COLUMN order_mgmt.promo_usage.scope IS 'What the code applies to: all (the whole order), or products: P1, P2; skus: S1 (issue 18)';
