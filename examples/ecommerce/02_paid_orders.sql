-- Paid orders, enriched, keyed by order id: to the topic "paid_orders"...
CREATE SINK IF NOT EXISTS paid_orders WITH (connector = 'topic', topic = 'paid_orders') AS
SELECT order_id,
       lower(customer)                                   AS customer,
       amount,
       coalesce(upper(currency), 'EUR')                  AS currency,
       CASE WHEN amount >= 500 THEN 'gold'
            WHEN amount >= 100 THEN 'silver'
            ELSE 'standard' END                          AS tier,
       coalesce(jsonb_array_length(items), 0)            AS item_count,
       split_part(email, '@', 2)                         AS email_domain,
       placed_at
FROM orders
WHERE status = 'paid' AND amount > 0
KEY BY order_id;

-- ...and to NDJSON files under ./exports/paid_orders, rotated hourly.
CREATE SINK IF NOT EXISTS paid_orders_file WITH (connector = 'file', path = 'exports/paid_orders', 'rotation.interval' = '1h') AS
SELECT order_id, lower(customer) AS customer, amount, coalesce(upper(currency), 'EUR') AS currency, placed_at
FROM orders
WHERE status = 'paid' AND amount > 0;
