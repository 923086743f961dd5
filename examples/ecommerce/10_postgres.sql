-- Applied only when TIDE_DEMO_POSTGRES_URL is set (e.g.
-- postgres://user:pass@localhost:5432/shop?sslmode=disable): paid orders are
-- upserted into the table paid_orders, exactly once.
CREATE SINK IF NOT EXISTS paid_orders_pg WITH (
    connector = 'postgres', url = '${TIDE_DEMO_POSTGRES_URL}',
    table = 'paid_orders', 'primary-key' = 'order_id', 'table.create' = 'true'
) AS
SELECT order_id, lower(customer) AS customer, amount, coalesce(upper(currency), 'EUR') AS currency, placed_at
FROM orders
WHERE status = 'paid' AND amount > 0;
