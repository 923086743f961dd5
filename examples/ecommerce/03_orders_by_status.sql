-- A materialized view: orders and amounts per status, kept up to date as
-- orders arrive and served over HTTP by the server itself:
--   curl localhost:8080/v1/views/orders_by_status
--   tide view orders_by_status --watch
-- Invalid orders go to its own dead-letter topic, orders_by_status.dlq.

CREATE MATERIALIZED VIEW IF NOT EXISTS orders_by_status AS
SELECT status, count(*) AS orders, sum(amount) AS amount
FROM orders
GROUP BY status;
