-- Times every report over 90 days of shop 1 (after gen_orders.sql).
\timing on
SELECT count(*) FROM order_mgmt.report_daily_breakdown(1, '2026-01-01', '2026-03-31');
SELECT count(*) FROM order_mgmt.report_lost_orders(1, '2026-01-01', '2026-03-31');
SELECT count(*) FROM order_mgmt.report_cancel_reasons(1, '2026-01-01', '2026-03-31');
SELECT count(*) FROM order_mgmt.report_followups(1);
SELECT count(*) FROM order_mgmt.report_recovery(1, '2026-01-01', '2026-03-31');
SELECT count(*) FROM order_mgmt.report_variant_mix(1, 'TEE', '2026-01-01', '2026-03-31', 1000);
SELECT count(*) FROM order_mgmt.report_stuck(1, '7 days');
SELECT count(*) FROM order_mgmt.report_cancellations(1, '2026-01-01', '2026-03-31');
