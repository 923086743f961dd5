-- The e-commerce demo: orders are POSTed over HTTP to the topic "orders"
-- (POST /v1/topics/orders/records). Applied at start by
--   tide serve --sql-dir examples/ecommerce
-- Validation is the declaration: an order without an id, customer, amount
-- or status, or with a field of the wrong type, is not an order — it goes
-- to the dead-letter topic of each sink reading it, with the reason.

CREATE SOURCE IF NOT EXISTS orders (
    order_id  text NOT NULL,
    customer  text NOT NULL,
    email     text,
    items     json,
    amount    numeric(12, 2) NOT NULL,
    currency  text,
    status    text NOT NULL,
    placed_at timestamptz,
    WATERMARK FOR placed_at AS placed_at - INTERVAL '10 seconds'
) WITH (connector = 'http', topic = 'orders', format = 'json');
