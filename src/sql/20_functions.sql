
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

CREATE FUNCTION order_mgmt.balance_buckets(shop_id bigint)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'om_balance_buckets'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.balance_buckets(bigint) IS
	'Spreads the shop''s hot SKUs over more stock buckets and merges cooled ones back (issue 21), from the contention sku_heat measured; only SKUs without stock_buckets in a shop whose stock_buckets is 1, up to shop.auto_buckets_max; logged in stock_log; returns how many SKUs changed.  The sweeper calls it; without the sweeper, call it every few seconds';

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

CREATE FUNCTION order_mgmt.minor_units(currency text) RETURNS integer
	AS 'MODULE_PATHNAME', 'om_minor_units'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION order_mgmt.minor_units(text) IS
	'Fraction digits of a currency as ICU reports them (TWD 2, JPY 0, KWD 3): every amount in it is rounded to them';
