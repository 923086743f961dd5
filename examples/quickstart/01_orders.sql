-- The quickstart pipeline: orders arrive as JSON on the topic "orders";
-- the large ones, enriched, go to "big_orders", keyed by customer.
-- Applied at start by: tide serve --sql-dir examples/quickstart

CREATE SOURCE IF NOT EXISTS orders (
    id        bigint NOT NULL,
    customer  text,
    amount    numeric(12, 2),
    currency  text,
    placed_at timestamptz,
    WATERMARK FOR placed_at AS placed_at - INTERVAL '5 seconds'
) WITH (connector = 'topic', topic = 'orders', format = 'json');

CREATE SINK IF NOT EXISTS big_orders WITH (connector = 'topic', topic = 'big_orders', format = 'json') AS
SELECT id,
       upper(customer)                         AS customer,
       amount,
       coalesce(currency, 'EUR')               AS currency,
       amount >= 1000                          AS vip,
       date_trunc('hour', placed_at)           AS hour
FROM orders
WHERE amount > 100
KEY BY customer;
