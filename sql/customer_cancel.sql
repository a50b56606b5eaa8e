-- Customer self-cancel (SPEC §8, seed 001), table-driven: every reachable
-- combination of order status x payment x delivery x logistics kind, for
-- each kind of customer, against the rule written out in SQL.
SET order_mgmt.clock = '2026-12-02 09:00+00';
SELECT order_mgmt.create_shop(130, 'Self-cancel shop');
SELECT setval('order_mgmt.order_id_seq', 1300000);
SELECT order_mgmt.upsert_sku(130, 'A', 100);
SELECT order_mgmt.set_stock(130, 'A', 1000);
SELECT order_mgmt.upsert_customer(130, 'member', 'Member@Example.com');
SELECT order_mgmt.upsert_customer(130, 'other', 'other@example.com');
SELECT order_mgmt.upsert_customer(130, 'visitor', 'visitor@example.com', is_member => false);

CREATE TABLE cc_case (order_id bigint, buyer text, email text, logistics text, status text,
					  payment text, delivery text);

-- orders in every reachable combination; moves the guard refuses are skipped
DO $$
DECLARE
	lg text;
	st text;
	pay text;
	del text;
	buyer text;
	o bigint;
BEGIN
	FOREACH lg IN ARRAY ARRAY['standard', 'integrated', 'cod'] LOOP
	FOREACH st IN ARRAY ARRAY['pending', 'confirmed', 'cancelled', 'completed'] LOOP
	FOREACH pay IN ARRAY ARRAY['unpaid', 'pending', 'paid', 'failed', 'refunding'] LOOP
	FOREACH del IN ARRAY CASE lg WHEN 'standard' THEN ARRAY['unfulfilled', 'shipped']
							ELSE ARRAY['not_executed', 'shipment_cancelled', 'shipping_overdue', 'shipping'] END LOOP
	FOREACH buyer IN ARRAY ARRAY['member', 'guest'] LOOP
		BEGIN
			o := order_mgmt.checkout(130, '[{"sku": "A", "qty": 1}]', logistics => lg::order_mgmt.logistics_kind,
				customer_id => CASE WHEN buyer = 'member' THEN 'member' END,
				email => CASE WHEN buyer = 'guest' THEN ' MEMBER@example.com' END);
			IF pay IN ('paid', 'refunding') THEN
				PERFORM order_mgmt.mark_paid(130, o);
			END IF;
			IF pay IN ('pending', 'failed', 'refunding') THEN
				UPDATE order_mgmt.orders SET payment_status = pay::order_mgmt.payment_status WHERE order_id = o;
			END IF;
			IF del IN ('shipment_cancelled', 'shipping_overdue') THEN
				UPDATE order_mgmt.orders SET delivery_status = del::order_mgmt.delivery_status WHERE order_id = o;
			ELSIF del IN ('shipped', 'shipping') THEN
				UPDATE order_mgmt.orders SET delivery_status = del::order_mgmt.delivery_status WHERE order_id = o;
			END IF;
			IF st <> 'pending' THEN
				UPDATE order_mgmt.orders SET status = st::order_mgmt.order_status WHERE order_id = o;
			END IF;
			INSERT INTO cc_case
			SELECT o, buyer, email_key, logistics::text, status::text, payment_status::text, delivery_status::text
			FROM order_mgmt.orders WHERE order_id = o;
		EXCEPTION WHEN SQLSTATE 'OM005' THEN
			NULL;		-- not a reachable combination
		END;
	END LOOP; END LOOP; END LOOP; END LOOP; END LOOP;
END
$$;

-- the verdicts for each asking customer, against the rule of SPEC §8
CREATE TABLE cc_result AS
SELECT c.*, who, v.allowed, v.reason,
	   (who = 'member')
	   AND c.status = 'pending' AND c.payment IN ('unpaid', 'paid')
	   AND CASE c.logistics WHEN 'standard' THEN c.delivery = 'unfulfilled'
			ELSE c.delivery IN ('not_executed', 'shipment_cancelled', 'shipping_overdue') END AS expected
FROM cc_case c
CROSS JOIN unnest(ARRAY['member', 'other', 'visitor', 'stranger']) AS who
CROSS JOIN LATERAL order_mgmt.can_customer_cancel(130, c.order_id, who) v;

SELECT count(DISTINCT order_id) AS orders, count(*) AS verdicts,
	   count(*) FILTER (WHERE allowed) AS allowed,
	   count(*) FILTER (WHERE allowed = expected) AS as_expected
FROM cc_result;
SELECT * FROM cc_result WHERE allowed IS DISTINCT FROM expected;

-- the reasons a UI shows, one per kind
SELECT DISTINCT ON (reason) reason FROM cc_result WHERE NOT allowed ORDER BY reason;

-- customer_cancel acts on the same verdict: OM006 with the reason in DETAIL
SELECT order_id AS refused FROM cc_result WHERE who = 'member' AND NOT allowed AND status = 'confirmed' ORDER BY order_id LIMIT 1 \gset
SELECT order_mgmt.customer_cancel(130, :refused, 'member');
\echo :LAST_ERROR_SQLSTATE
SELECT order_id AS not_theirs FROM cc_result WHERE who = 'other' AND expected IS FALSE AND buyer = 'member'
   AND status = 'pending' AND payment = 'unpaid' AND logistics = 'standard' ORDER BY order_id LIMIT 1 \gset
SELECT order_mgmt.customer_cancel(130, :not_theirs, 'other');
\echo :LAST_ERROR_SQLSTATE
-- allowed: a member's own order and a guest order with the member's e-mail
SELECT order_id AS own FROM cc_result WHERE who = 'member' AND allowed AND buyer = 'member' AND payment = 'paid' ORDER BY order_id LIMIT 1 \gset
SELECT order_mgmt.customer_cancel(130, :own, 'member', 'found_better_price', 'cheaper elsewhere');
SELECT status, payment_status, cancel_source, cancel_reason, cancel_note FROM order_mgmt.orders WHERE order_id = :own;
SELECT order_id AS guest FROM cc_result WHERE who = 'member' AND allowed AND buyer = 'guest' ORDER BY order_id LIMIT 1 \gset
SELECT order_mgmt.customer_cancel(130, :guest, 'member');
SELECT status, cancel_source FROM order_mgmt.orders WHERE order_id = :guest;
-- the shop's switch comes first
SELECT order_id AS another FROM cc_result WHERE who = 'member' AND allowed AND order_id NOT IN (:own, :guest) ORDER BY order_id LIMIT 1 \gset
SELECT order_mgmt.update_shop(130, '{"allow_customer_cancel": false}');
SELECT * FROM order_mgmt.can_customer_cancel(130, :another, 'member');
SELECT order_mgmt.customer_cancel(130, :another, 'member');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.customer_cancel(130, 424242, 'member');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.customer_cancel(130, :another, NULL);
\echo :LAST_ERROR_SQLSTATE

DROP TABLE cc_case, cc_result;
RESET order_mgmt.clock;
SELECT * FROM order_mgmt.verify();
