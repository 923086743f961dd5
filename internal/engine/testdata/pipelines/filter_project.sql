CREATE SOURCE orders (
    id bigint NOT NULL,
    customer text,
    amount numeric(10, 2),
    qty integer,
    tags json,
    placed_at timestamptz
) WITH (connector = 'topic', topic = 'orders', format = 'json');

CREATE SINK big WITH (connector = 'topic', topic = 'big') AS
SELECT id,
       upper(customer) AS customer,
       amount * qty AS total,
       amount / qty AS unit,
       tags ->> 'channel' AS channel,
       CASE WHEN amount >= 1000 THEN 'vip' WHEN amount >= 100 THEN 'big' ELSE 'small' END AS class,
       extract(hour FROM placed_at) AS hour,
       _partition IS NOT NULL AS has_partition
FROM orders
WHERE amount > 50 AND customer NOT LIKE 'test%'
KEY BY customer;

SHOW SINKS;
DESCRIBE orders;
