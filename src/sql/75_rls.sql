
-- ---------------------------------------------------------------------------
-- Row-level security by shop (issue 19, SPEC §17, docs/reference.md
-- "Row-level security"): off by default; order_mgmt.enable_rls() puts the
-- policy shop_isolation on every table with a shop_id and turns it on.
-- ---------------------------------------------------------------------------
CREATE TABLE order_mgmt.shop_access (
	shop_id bigint NOT NULL CHECK (shop_id > 0),
	role_name name NOT NULL,
	PRIMARY KEY (shop_id, role_name)
);
COMMENT ON TABLE order_mgmt.shop_access IS 'Which roles may use which shops when row-level security is on: a role may use a shop if it has the privileges of a role mapped to it (grant_shop_access); no row, no access';
COMMENT ON COLUMN order_mgmt.shop_access.shop_id IS 'The shop (it may be mapped before create_shop creates it)';
COMMENT ON COLUMN order_mgmt.shop_access.role_name IS 'A role; its members use the shop too.  A renamed or dropped role maps nothing';

CREATE FUNCTION order_mgmt.rls_shops()
	RETURNS bigint[]
	AS 'MODULE_PATHNAME', 'om_rls_shops'
	LANGUAGE C STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.rls_shops() IS
	'The shops the calling role may use under row-level security: those shop_access maps it (or a role it has the privileges of) to, narrowed to order_mgmt.shop_id when that is set; what the policies compare shop_id with';

CREATE FUNCTION order_mgmt.check_shop_access(shop_id bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'om_check_shop_access'
	LANGUAGE C STABLE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.check_shop_access(bigint) IS
	'Raises 42501 when row-level security is on and the calling role may not use the shop (the check every API call and report makes first); nothing otherwise';

CREATE FUNCTION order_mgmt.enable_rls()
	RETURNS integer
	AS 'MODULE_PATHNAME', 'om_enable_rls'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.enable_rls() IS
	'Turns row-level security by shop on: the policy shop_isolation on every table with a shop_id, the views read as their caller; returns how many tables; idempotent; superuser or order_mgmt_admin; refused on Citus';

CREATE FUNCTION order_mgmt.disable_rls()
	RETURNS integer
	AS 'MODULE_PATHNAME', 'om_disable_rls'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.disable_rls() IS
	'Turns row-level security by shop off (drops the policies); returns how many tables; idempotent; a superuser, or an order_mgmt_admin it does not restrict';

CREATE FUNCTION order_mgmt.grant_shop_access(shop_id bigint, role_name name)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'om_grant_shop_access'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.grant_shop_access(bigint, name) IS
	'Lets role_name (and the roles that have its privileges) use the shop under row-level security; true if it was not mapped yet; a superuser, or an order_mgmt_admin row-level security does not restrict';

CREATE FUNCTION order_mgmt.revoke_shop_access(shop_id bigint, role_name name)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'om_revoke_shop_access'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, order_mgmt, pg_temp;
COMMENT ON FUNCTION order_mgmt.revoke_shop_access(bigint, name) IS
	'Unmaps role_name from the shop; true if it was mapped; as grant_shop_access';
