-- ICU (SPEC §15): labels in the best matching locale, money for people,
-- normalized codes and e-mail addresses, and odd input.

-- the locale fallback table: canonicalization and likely subtags
SELECT l AS locale, order_mgmt.label('shipping_overdue'::order_mgmt.delivery_status, l) AS label
FROM unnest(ARRAY['zh-TW', 'zh_HK', 'zh-Hant-TW', 'zh-MO', 'zh-CN', 'zh-SG', 'zh-Hans', 'zh',
				  'th-TH', 'th', 'fi-FI', 'fi', 'en', 'en-GB', 'ja-JP', 'de-DE', 'pt_BR']) l;
-- every status of every machine has a label of its own in the five locales
SELECT (SELECT count(*) FROM unnest(enum_range(NULL::order_mgmt.order_status)) v, unnest(ARRAY['en', 'zh-Hant', 'zh-Hans', 'th', 'fi']) l
		WHERE order_mgmt.label(v, l) <> v::text) AS order_labels,
	   (SELECT count(*) FROM unnest(enum_range(NULL::order_mgmt.payment_status)) v, unnest(ARRAY['en', 'zh-Hant', 'zh-Hans', 'th', 'fi']) l
		WHERE order_mgmt.label(v, l) <> v::text) AS payment_labels,
	   (SELECT count(*) FROM unnest(enum_range(NULL::order_mgmt.delivery_status)) v, unnest(ARRAY['en', 'zh-Hant', 'zh-Hans', 'th', 'fi']) l
		WHERE order_mgmt.label(v, l) <> v::text) AS delivery_labels;
SELECT order_mgmt.label(s, 'th-TH') FROM unnest(enum_range(NULL::order_mgmt.order_status)) s;
-- no locale: English; NULL value: NULL
SELECT order_mgmt.label('refunding'::order_mgmt.payment_status);
SELECT order_mgmt.label(NULL::order_mgmt.payment_status, 'fi');
-- shops override a label, or add a locale, with builtin = false rows
INSERT INTO order_mgmt.status_label (enum_type, value, locale, label)
VALUES ('payment_status', 'paid', 'zh-Hant', '已付清'), ('payment_status', 'paid', 'ja', '支払済み');
SELECT order_mgmt.label('paid'::order_mgmt.payment_status, 'zh-TW') AS overridden,
	   order_mgmt.label('paid'::order_mgmt.payment_status, 'ja-JP') AS added,
	   order_mgmt.label('paid'::order_mgmt.payment_status, 'zh-CN') AS untouched;
DELETE FROM order_mgmt.status_label WHERE NOT builtin;
-- labels of other enums fall back to the value itself
SELECT order_mgmt.label('merchant'::order_mgmt.cancel_source, 'fi');
-- (cancel reasons have labels: issue 17 item 7, sql/seeds.sql)
SELECT order_mgmt.label('changed_mind'::order_mgmt.cancel_reason, 'fi');
-- bad locales
SELECT order_mgmt.label('paid'::order_mgmt.payment_status, '');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.label('paid'::order_mgmt.payment_status, 'not a locale');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.label('paid'::order_mgmt.payment_status, 'zh-TW-xx-yy-zz-!!');
\echo :LAST_ERROR_SQLSTATE

-- money: the locale's currency format, rounded to the currency's minor units
SELECT order_mgmt.format_money(1200, 'TWD', 'en-US') AS twd_en,
	   order_mgmt.format_money(1200, 'TWD', 'zh-TW') AS twd_zh,
	   order_mgmt.format_money(1200, 'THB', 'th-TH') AS thb_th,
	   order_mgmt.format_money(1200, 'EUR', 'fi-FI') AS eur_fi;
SELECT order_mgmt.format_money(1234.5, 'JPY', 'ja-JP') AS jpy_no_minor_units,
	   order_mgmt.format_money(1.2345, 'KWD', 'en') AS kwd_three,
	   order_mgmt.format_money(-5, 'TWD', 'en') AS negative,
	   order_mgmt.format_money(0, 'EUR', 'fi_FI') AS zero;
SELECT order_mgmt.format_money(NULL, 'TWD', 'en');
SELECT order_mgmt.format_money(1, 'XYZ', 'en');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.format_money(1, 'twd', 'en');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.format_money(1, 'TWD', 'xx yy');
\echo :LAST_ERROR_SQLSTATE
SELECT order_mgmt.format_money('NaN', 'TWD', 'en');
\echo :LAST_ERROR_SQLSTATE

-- normalization: full-width and case variants, zero-width characters, white space
SELECT order_mgmt.normalize_code(c) FROM unnest(ARRAY['ＳＡＬＥ１０', ' sale10 ', E'SALE\u200B10',
	E'\u3000SALE10\u3000', 'ｓａｌｅ１０', 'ŞALE10', '']) c;
SELECT order_mgmt.normalize_email(e) FROM unnest(ARRAY['  Mary@Example.COM ', 'ＭＡＲＹ＠ＥＸＡＭＰＬＥ．ＣＯＭ']) e;
SELECT order_mgmt.normalize_code(NULL), order_mgmt.normalize_email(NULL);
-- issue 19 (the fuzzer): an amount longer than ICU's first buffer
-- (U_BUFFER_OVERFLOW_ERROR, 38000) is formatted in a bigger one
SELECT length(order_mgmt.format_money(1e300, 'JPY', 'th-TH')) > 301 AS formatted,
	   order_mgmt.format_money(1e300, 'JPY', 'th-TH') LIKE '%000,000' AS grouped;

SELECT * FROM order_mgmt.verify();
