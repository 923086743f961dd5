-- The simplest pipeline: every declared column, the input key kept.
CREATE SINK copy WITH (connector = 'stdout') AS SELECT * FROM clicks
====
-- Filter, projection with aliases and types, KEY BY, a watermarked source.
CREATE SINK big_orders WITH (connector = 'topic', topic = 'big', format = 'json') AS
SELECT id, amount * 2 AS doubled, upper(customer), tags ->> 'channel', _partition
FROM orders
WHERE amount > 100 AND customer IS NOT NULL
KEY BY customer
====
-- A column list renames the outputs; option values are quoted in EXPLAIN.
CREATE SINK renamed (who, page) WITH (connector = 'topic', topic = 'it''s', topic.create = 'false') AS
SELECT c.user_id, c.url FROM clicks AS c WHERE c.url LIKE '/docs/%'
====
-- Expressions are printed in their canonical form.
CREATE SINK canonical WITH (connector = 'blackhole') AS
SELECT CASE WHEN amount BETWEEN 1 AND 10 THEN 'small' ELSE 'other' END AS size,
       cast(id AS text) || '!' AS label,
       extract(epoch FROM placed_at) AS epoch
FROM orders WHERE NOT (id IN (1, 2, 3)) KEY BY id % 4
====
CREATE SINK agg WITH (connector = 'stdout') AS SELECT customer, count(*) FROM orders
====
CREATE SINK missing WITH (connector = 'stdout') AS
SELECT id
FROM nowhere
