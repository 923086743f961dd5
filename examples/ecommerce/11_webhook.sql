-- Applied only when TIDE_DEMO_WEBHOOK_URL is set: each paid order is POSTed
-- there, retried with backoff, dead-lettered after 8 attempts.
CREATE SINK IF NOT EXISTS paid_orders_webhook WITH (connector = 'http', url = '${TIDE_DEMO_WEBHOOK_URL}') AS
SELECT order_id, lower(customer) AS customer, amount, coalesce(upper(currency), 'EUR') AS currency
FROM orders
WHERE status = 'paid' AND amount > 0;
