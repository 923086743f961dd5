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
-- GROUP BY without a window: an updating result, keyed by the group.
CREATE SINK per_customer WITH (connector = 'stdout') AS
SELECT customer, count(*), sum(amount) AS total, sum(amount) / count(*) AS mean
FROM orders
WHERE amount > 0
GROUP BY customer
====
-- A global aggregate: no GROUP BY, one group.
CREATE SINK totals WITH (connector = 'stdout') AS
SELECT count(*) AS n, max(amount) - min(amount) AS spread, avg(amount), count(DISTINCT customer) FROM orders
====
-- HAVING without GROUP BY is a global aggregate too.
CREATE SINK busy WITH (connector = 'stdout') AS SELECT count(*) FROM clicks HAVING count(*) > 100
====
-- GROUP BY an expression, matched in the select list; by ordinal; by output name.
CREATE SINK by_expr WITH (connector = 'blackhole') AS
SELECT lower(c.url) AS page, c.user_id % 10 AS bucket, count(*) FROM clicks c GROUP BY lower(url), 2
====
CREATE SINK by_alias WITH (connector = 'blackhole') AS
SELECT upper(customer) AS who, extract(hour FROM placed_at), count(*) FROM orders GROUP BY who, extract(hour FROM placed_at)
====
-- A TUMBLE window over the watermark column; HAVING over an aggregate the select list lacks.
CREATE SINK per_minute WITH (connector = 'topic', topic = 'per-minute') AS
SELECT customer, window_start, window_end, count(*) AS orders, sum(amount) AS total
FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE)
WHERE customer IS NOT NULL
GROUP BY window_start, window_end, customer
HAVING max(amount) > 10
====
-- HOP in Flink's argument order (slide, then size), with an offset and an alias.
CREATE SINK sliding WITH (connector = 'stdout') AS
SELECT w.window_end, avg(w.value) AS avg_value, min(value), max(value)
FROM HOP(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '1' MINUTE, INTERVAL '5' SECOND) AS w
GROUP BY w.window_start, w.window_end
====
-- SESSION with named arguments, over a timestamp (without time zone) column.
CREATE SINK sessions WITH (connector = 'stdout') AS
SELECT sensor, window_start, window_end - window_start AS length, count(*) FROM SESSION(data => TABLE readings, timecol => DESCRIPTOR(ts), gap => INTERVAL '5' MINUTE)
GROUP BY sensor, window_start, window_end
KEY BY sensor
====
-- The record timestamp as event time, for a source without a WATERMARK; constant sizes are evaluated.
CREATE SINK hourly WITH (connector = 'stdout') AS
SELECT window_start, count(*) FROM TUMBLE(TABLE clicks, DESCRIPTOR(_timestamp), INTERVAL '30' MINUTE * 2) GROUP BY window_start, window_end
====
CREATE SINK star WITH (connector = 'stdout') AS SELECT *, count(*) FROM clicks GROUP BY user_id
====
CREATE SINK ungrouped WITH (connector = 'stdout') AS
SELECT customer, count(*) FROM orders o
====
CREATE SINK no_window_keys WITH (connector = 'stdout') AS
SELECT user_id, count(*) FROM TUMBLE(TABLE clicks, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE) GROUP BY user_id
====
CREATE SINK not_event_time WITH (connector = 'stdout') AS
SELECT window_start, count(*) FROM TUMBLE(TABLE readings, DESCRIPTOR(at), INTERVAL '1' MINUTE) GROUP BY window_start, window_end
====
CREATE SINK no_watermark WITH (connector = 'stdout') AS
SELECT page, count(*) FROM TUMBLE(TABLE visits, DESCRIPTOR(seen), INTERVAL '1' MINUTE) GROUP BY page, window_start, window_end
====
CREATE SINK window_join WITH (connector = 'stdout') AS
SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o, clicks
====
CREATE SINK projection WITH (connector = 'stdout') AS
SELECT user_id FROM TUMBLE(TABLE clicks, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE)
====
CREATE SINK missing WITH (connector = 'stdout') AS
SELECT id
FROM nowhere
====
-- A stream joined with a table: the latest customer row per order.
CREATE SINK enriched WITH (connector = 'stdout') AS
SELECT o.id, c.tier, o.amount FROM orders o LEFT JOIN customers c ON lower(o.customer) = c.name WHERE c.tier IS DISTINCT FROM 'banned'
====
-- GROUP BY over the joined rows: an updating total per tier.
CREATE SINK per_tier WITH (connector = 'stdout') AS
SELECT c.tier, count(*) FROM orders JOIN customers c ON orders.customer = c.name GROUP BY c.tier
====
-- Subqueries in FROM merge into the query, at any depth: one filter, one projection.
CREATE SINK nested WITH (connector = 'stdout') AS
SELECT doubled + 1 AS plus_one, * FROM (
    SELECT id, amount * 2 AS doubled, amount > 100 AS big FROM (SELECT * FROM orders WHERE customer IS NOT NULL) inner_q
) q WHERE q.doubled > 10
====
-- An aggregation over a subquery.
CREATE SINK per_customer WITH (connector = 'stdout') AS
SELECT who, count(*) FROM (SELECT lower(customer) AS who FROM orders WHERE amount > 0) q GROUP BY who
====
-- An interval join of two streams: the key's narrower side is cast, one-sided conditions go before the shuffle.
CREATE SINK paid WITH (connector = 'stdout') AS
SELECT o.id, p.amount AS paid, p.paid_at - o.placed_at AS took
FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' HOUR
WHERE o.amount > 10 AND p.amount > 0 AND p.amount <= o.amount
====
-- A LEFT interval join: the bound written as comparisons the other way round; WHERE on the right side stays after the join.
CREATE SINK unpaid WITH (connector = 'stdout') AS
SELECT o.id, o.customer, p.amount FROM orders o LEFT JOIN payments AS p
  ON p.order_id = o.id AND o.placed_at >= p.paid_at - INTERVAL '30' MINUTE AND o.placed_at < p.paid_at + INTERVAL '1' MINUTE AND o.customer <> 'test'
WHERE p.amount IS NULL
====
-- A regular join of two streams: no time bound, state kept for ever.
CREATE SINK all_paid WITH (connector = 'stdout') AS
SELECT orders.*, payments.paid_at FROM orders JOIN payments ON orders.id = payments.order_id
====
-- A LEFT join of two streams needs an upper bound.
CREATE SINK never WITH (connector = 'stdout') AS
SELECT o.id FROM orders o LEFT JOIN payments p ON o.id = p.order_id
====
-- Two streams need an equality.
CREATE SINK cross_time WITH (connector = 'stdout') AS
SELECT o.id FROM orders o JOIN payments p ON p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' HOUR
====
-- Aggregating a join of two streams is not there yet.
CREATE SINK per_customer WITH (connector = 'stdout') AS
SELECT o.customer, count(*) FROM orders o JOIN payments p ON o.id = p.order_id GROUP BY o.customer
====
-- A window join: the same TUMBLE on both sides, equal window starts; each side keeps its rows a window long.
CREATE SINK same_minute WITH (connector = 'stdout') AS
SELECT o.id, p.amount, o.window_start
FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o
JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p
  ON o.id = p.order_id AND o.window_start = p.window_start
====
-- Windows of different sizes do not bound each other: the rows stay.
CREATE SINK mismatched WITH (connector = 'stdout') AS
SELECT o.id FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o
JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '2' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start
====
-- HOP windows join too: each row is in every window that holds it.
CREATE SINK hops WITH (connector = 'stdout') AS
SELECT o.id, o.window_start FROM HOP(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE) o
JOIN HOP(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start
====
-- An inner window join's pairs aggregated by their window: a window aggregation fed by the join's tasks, each window's row once.
CREATE SINK paid_per_minute WITH (connector = 'stdout') AS
SELECT o.window_start, p.window_end, o.customer, count(*) AS paid, sum(p.amount) AS total
FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o
JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start
GROUP BY o.window_start, o.window_end, o.customer
====
-- Grouped by the join key too, still a stage of its own: the windows close there.
CREATE SINK per_order_minute WITH (connector = 'stdout') AS
SELECT o.id, window_start, window_end, count(*) AS payments
FROM HOP(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE) o
JOIN HOP(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start
GROUP BY o.id, window_start, window_end
====
-- An outer window join's padded rows come after their window has closed: grouped by the window, it updates.
CREATE SINK left_per_minute WITH (connector = 'stdout') AS
SELECT o.window_start, o.window_end, count(p.order_id) AS paid
FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o
LEFT JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start
GROUP BY o.window_start, o.window_end
====
-- SESSION windows as join sides are not there yet.
CREATE SINK sessions WITH (connector = 'stdout') AS
SELECT o.id FROM SESSION(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o
JOIN payments p ON o.id = p.order_id
====
-- UNION ALL: each query a stateless pipeline over its source into the one sink; integer and bigint make bigint.
CREATE SINK everything WITH (connector = 'stdout') AS
SELECT id, 'order' AS kind FROM orders WHERE amount > 0
UNION ALL SELECT order_id, 'payment' FROM payments
UNION ALL SELECT user_id, url FROM clicks KEY BY url
====
-- UNION ALL's columns must match in number and type.
CREATE SINK mismatch WITH (connector = 'stdout') AS
SELECT id, customer FROM orders UNION ALL SELECT order_id, paid_at FROM payments
====
-- An aggregating query in a UNION ALL: each query runs as a pipeline of
-- its own writing the sink.
CREATE SINK agg_union WITH (connector = 'stdout') AS
SELECT id FROM orders UNION ALL SELECT count(*) FROM payments
====
-- Top-N without event time: an updating result, keyed by the partition and the row number.
CREATE SINK top_customers WITH (connector = 'topic', topic = 'top') AS
SELECT customer, id, amount, rn
FROM (SELECT id, customer, amount, ROW_NUMBER() OVER (PARTITION BY customer ORDER BY amount DESC NULLS LAST, id) AS rn
      FROM orders WHERE amount > 0) AS o
WHERE rn <= 3 AND amount < 1000
====
-- Top-N partitioned by the event-time column: final rows once the watermark passes; RANK keeps ties.
CREATE SINK best_reading WITH (connector = 'stdout') AS
SELECT * FROM (SELECT sensor, ts, value, RANK() OVER (PARTITION BY ts ORDER BY value DESC) AS r FROM readings) WHERE 2 >= r
====
-- RANK without event time has no key for its updates.
CREATE SINK ranked WITH (connector = 'stdout') AS
SELECT * FROM (SELECT sensor, value, RANK() OVER (PARTITION BY sensor ORDER BY value) AS r FROM readings) WHERE r <= 2
====
-- A top-N needs a bound on the rank.
CREATE SINK unbounded WITH (connector = 'stdout') AS
SELECT * FROM (SELECT sensor, value, ROW_NUMBER() OVER (PARTITION BY sensor ORDER BY value) AS r FROM readings) WHERE r > 2
====
-- A window function anywhere else is refused.
CREATE SINK misplaced WITH (connector = 'stdout') AS
SELECT sensor, ROW_NUMBER() OVER (ORDER BY value) FROM readings
====
-- A top-N over an aggregating subquery chains through a topic for now.
CREATE SINK top_groups WITH (connector = 'stdout') AS
SELECT * FROM (SELECT sensor, n, ROW_NUMBER() OVER (ORDER BY n DESC) AS rn FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor)) WHERE rn = 1
====
-- Window top-N: each window's rows ranked, emitted when the watermark passes the window's end.
CREATE SINK top_readings WITH (connector = 'stdout') AS
SELECT window_start, sensor, value, r FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY value DESC) AS r
  FROM HOP(TABLE readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) WHERE ok)
WHERE r <= 3
====
-- A window top-N ranks within each window.
CREATE SINK top_any WITH (connector = 'stdout') AS
SELECT * FROM (SELECT sensor, ROW_NUMBER() OVER (PARTITION BY sensor ORDER BY value DESC) AS r
  FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) WHERE r <= 3
====
-- A top-N over a window aggregation (Nexmark q5): the windows' rows ranked in a second stateful stage.
CREATE SINK hot WITH (connector = 'topic', topic = 'hot') AS
SELECT sensor, n, starttime FROM (
  SELECT sensor, n, starttime, RANK() OVER (PARTITION BY starttime ORDER BY n DESC) AS r
  FROM (SELECT sensor, count(*) AS n, window_start AS starttime
        FROM HOP(TABLE readings, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND)
        WHERE ok GROUP BY sensor, window_start, window_end HAVING count(*) > 1) AS c)
WHERE r <= 1
====
-- A top-N over an updating GROUP BY: each changed group replaces its row, the old one taken back.
CREATE SINK hot_forever WITH (connector = 'topic', topic = 'hot') AS
SELECT * FROM (SELECT sensor, n, ROW_NUMBER() OVER (ORDER BY n DESC) AS r
  FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor)) WHERE r <= 1
====
-- A top-N without PARTITION BY ranks the whole stream.
CREATE SINK top_overall WITH (connector = 'topic', topic = 'x') AS
SELECT * FROM (SELECT sensor, ROW_NUMBER() OVER (ORDER BY value DESC) AS rn FROM readings) WHERE rn <= 3
====
-- An updating top-N is keyed by partition and row number.
CREATE SINK top_keyed WITH (connector = 'topic', topic = 'x') AS
SELECT * FROM (SELECT sensor, ROW_NUMBER() OVER (PARTITION BY sensor ORDER BY value DESC) AS rn FROM readings) WHERE rn <= 3
KEY BY sensor
====
-- Sessions that start together end apart: no top-N over them yet.
CREATE SINK top_sessions WITH (connector = 'topic', topic = 'o') AS
SELECT * FROM (SELECT sensor, n, ws, RANK() OVER (PARTITION BY ws ORDER BY n DESC) AS r
  FROM (SELECT sensor, count(*) AS n, window_start AS ws FROM SESSION(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND)
        GROUP BY sensor, window_start, window_end) AS c) WHERE r <= 1
====
-- RANK over a window aggregation needs the window in PARTITION BY.
CREATE SINK top_per_sensor WITH (connector = 'stdout') AS
SELECT * FROM (SELECT sensor, n, RANK() OVER (PARTITION BY sensor ORDER BY n DESC) AS r
  FROM (SELECT sensor, count(*) AS n FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND)
        GROUP BY sensor, window_start, window_end) AS c) WHERE r <= 1
====
-- The ranked query over an aggregating subquery ranks its rows as they are.
CREATE SINK top_regrouped WITH (connector = 'stdout') AS
SELECT * FROM (SELECT sensor, RANK() OVER (PARTITION BY ws ORDER BY sensor) AS r
  FROM (SELECT sensor, count(*) AS n, window_start AS ws FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND)
        GROUP BY sensor, window_start, window_end) AS c GROUP BY sensor, ws) WHERE r <= 1
====
-- A GROUP BY over a GROUP BY without a window: the inner rows update, and the outer aggregation takes back each row replaced.
CREATE SINK avg_of_max WITH (connector = 'topic', topic = 'x') AS
SELECT region, avg(top) AS avg_top, count(*) AS sensors FROM (
  SELECT sensor, region, max(value) AS top FROM readings WHERE ok GROUP BY sensor, region HAVING count(*) > 1) AS m
WHERE top > 0 GROUP BY region
====
-- Nexmark q4's shape: an average of maxima over a join.
CREATE SINK avg_paid WITH (connector = 'topic', topic = 'x') AS
SELECT Q.customer, avg(Q.final) FROM (
  SELECT max(p.amount) AS final, o.customer FROM orders AS o JOIN payments AS p ON o.id = p.order_id
  WHERE p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' HOUR GROUP BY o.id, o.customer) Q
GROUP BY Q.customer
====
-- min and max take a row back: each group keeps its values with their counts.
CREATE SINK max_of_counts WITH (connector = 'topic', topic = 'x') AS
SELECT max(n) FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor)
====
-- A GROUP BY over windows' rows without their window updates as the windows close: their rows only come.
CREATE SINK sum_of_windows WITH (connector = 'topic', topic = 'x') AS
SELECT sensor, sum(n) FROM (SELECT sensor, count(*) AS n FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND)
  GROUP BY sensor, window_start, window_end) GROUP BY sensor
====
-- Grouped by the subquery's window too, it is a window aggregation again (cascading windows): each window's row once.
CREATE SINK busiest_per_window WITH (connector = 'topic', topic = 'x') AS
SELECT window_start, window_end, max(n) AS busiest, count(*) AS sensors FROM (
  SELECT sensor, window_start, window_end, count(*) AS n FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND)
  GROUP BY sensor, window_start, window_end) AS c
WHERE n > 1 GROUP BY window_start, window_end HAVING count(*) > 0
====
-- HOP windows' rows, by region and window; the clock is allowed: a window's row is never taken back.
CREATE SINK hop_regions WITH (connector = 'topic', topic = 'x') AS
SELECT region, window_end, sum(n) AS n FROM (
  SELECT sensor, region, window_start, window_end, count(*) AS n, now() AS seen FROM HOP(TABLE readings, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)
  GROUP BY sensor, region, window_start, window_end) GROUP BY region, window_start, window_end
====
-- One bound alone is a key like any: the aggregation updates.
CREATE SINK half_window WITH (connector = 'topic', topic = 'x') AS
SELECT window_start, sum(n) FROM (SELECT sensor, window_start, window_end, count(*) AS n FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND)
  GROUP BY sensor, window_start, window_end) GROUP BY window_start
====
-- Sessions' rows by their windows: each session's row in its own window
-- (start and end), emitted once the watermark passes its end.
CREATE SINK by_session WITH (connector = 'topic', topic = 'x') AS
SELECT window_start, window_end, sum(n) FROM (SELECT sensor, window_start, window_end, count(*) AS n FROM SESSION(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND)
  GROUP BY sensor, window_start, window_end) GROUP BY window_start, window_end
====
CREATE SINK sessions_per_sensor WITH (connector = 'topic', topic = 'x') AS
SELECT sensor, count(*) AS sessions, max(n) AS longest FROM (SELECT sensor, window_start, window_end, count(*) AS n FROM SESSION(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND)
  GROUP BY sensor, window_start, window_end) GROUP BY sensor
====
-- q4 with its time condition in ON.
CREATE SINK avg_paid_on WITH (connector = 'topic', topic = 'x') AS
SELECT Q.customer, avg(Q.final) FROM (
  SELECT max(p.amount) AS final, o.customer FROM orders AS o JOIN payments AS p ON o.id = p.order_id
  AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' HOUR GROUP BY o.id, o.customer) Q
GROUP BY Q.customer
====
-- A regular LEFT JOIN updates: lonely orders at once, taken back at their first payment; KEY BY names the rows.
CREATE SINK paid_regular WITH (connector = 'topic', topic = 'x') AS
SELECT o.id, p.amount FROM orders o LEFT JOIN payments p ON o.id = p.order_id KEY BY o.id
====
-- Aggregated, its retractions reach max, which keeps every value with its count.
CREATE SINK paid_max WITH (connector = 'topic', topic = 'x') AS
SELECT o.customer, max(p.amount) FROM orders o LEFT JOIN payments p ON o.id = p.order_id GROUP BY o.customer
====
-- A row taken back is evaluated again: no clock on its way to the outer aggregation.
CREATE SINK idle_users WITH (connector = 'topic', topic = 'x') AS
SELECT count(*) FROM (SELECT sensor, max(ts) AS last FROM readings GROUP BY sensor HAVING max(ts) < now() - INTERVAL '1' HOUR)
====
-- DISTINCT takes a row back: each value is kept with its count.
CREATE SINK distinct_counts WITH (connector = 'topic', topic = 'x') AS
SELECT count(DISTINCT n) FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor)
====
-- A NULL-padded row taken back is evaluated again: no clock after a regular outer join.
CREATE SINK paid_recent WITH (connector = 'topic', topic = 'x') AS
SELECT o.id, p.amount FROM orders o LEFT JOIN payments p ON o.id = p.order_id WHERE p.paid_at IS NULL OR p.paid_at > now() KEY BY o.id
====
-- ... but a condition on the left side alone runs before the join, once.
CREATE SINK paid_recent_left WITH (connector = 'topic', topic = 'x') AS
SELECT o.id, p.amount FROM orders o LEFT JOIN payments p ON o.id = p.order_id WHERE o.placed_at > now() - INTERVAL '1' DAY KEY BY o.id
====
-- A query that filters and projects an aggregating subquery merges into it: its WHERE joins HAVING.
CREATE SINK busy_minutes WITH (connector = 'topic', topic = 'x') AS
SELECT sensor, ws, n * 2 AS doubled FROM (
  SELECT sensor, window_start AS ws, count(*) AS n FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE)
  GROUP BY 1, window_start, window_end HAVING count(*) > 1) AS m
WHERE n > 5
====
-- Over an updating GROUP BY, a group whose row fails the outer WHERE leaves the result; GROUP BY an output name.
CREATE SINK top_regions WITH (connector = 'topic', topic = 'x') AS
SELECT * FROM (SELECT lower(region) AS r, max(value) AS peak FROM readings GROUP BY r) WHERE peak > 100 KEY BY r
====
-- A top-N over an updating GROUP BY ranks with ROW_NUMBER (a rank is not a key).
CREATE SINK hot_ranked WITH (connector = 'topic', topic = 'hot') AS
SELECT * FROM (SELECT sensor, n, RANK() OVER (ORDER BY n DESC) AS r
  FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor)) WHERE r <= 3
====
-- A top-N over an updating GROUP BY evaluates a replaced row again: no clock on that path.
CREATE SINK hot_now WITH (connector = 'topic', topic = 'hot') AS
SELECT * FROM (SELECT sensor, n, ROW_NUMBER() OVER (PARTITION BY n > extract(epoch FROM now()) ORDER BY n DESC) AS r
  FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor)) WHERE r <= 3
====
-- Per region, the three sensors with the most readings, among those seen at least ten times.
CREATE SINK busiest WITH (connector = 'topic', topic = 'busiest') AS
SELECT region, sensor, n, rn FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY region ORDER BY n DESC, sensor) AS rn
  FROM (SELECT sensor, substr(sensor, 1, 2) AS region, count(*) AS n FROM readings GROUP BY sensor HAVING count(*) >= 10) AS counts)
WHERE rn <= 3
====
-- A top-N over a join of two streams: per customer, the two largest payments, ranked as the pairs are made.
CREATE SINK top_payments WITH (connector = 'topic', topic = 'x') AS
SELECT * FROM (SELECT o.id, o.customer, p.amount, ROW_NUMBER() OVER (PARTITION BY o.customer ORDER BY p.amount DESC, o.id) AS rn
  FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' HOUR
  WHERE p.amount > 0) WHERE rn <= 2
====
-- Over a regular LEFT join the NULL-padded rows rank until their first payment takes them back.
CREATE SINK top_orders WITH (connector = 'topic', topic = 'x') AS
SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.customer ORDER BY o.amount DESC, o.id) AS rn
  FROM orders o LEFT JOIN payments p ON o.id = p.order_id) WHERE rn <= 3
====
-- ... so the clock may not be read on their way.
CREATE SINK top_orders_now WITH (connector = 'topic', topic = 'x') AS
SELECT * FROM (SELECT o.id, now() AS at, ROW_NUMBER() OVER (ORDER BY o.amount DESC) AS rn
  FROM orders o LEFT JOIN payments p ON o.id = p.order_id) WHERE rn <= 3
====
-- A top-N over an aggregated join: the join's tasks sum per order (grouped by the join key), the top-N ranks the sums.
CREATE SINK top_paid_orders WITH (connector = 'topic', topic = 'x') AS
SELECT * FROM (SELECT id, paid, ROW_NUMBER() OVER (ORDER BY paid DESC, id) AS rn
  FROM (SELECT o.id, sum(p.amount) AS paid FROM orders o JOIN payments p ON o.id = p.order_id GROUP BY o.id) AS sums) WHERE rn <= 10
====
-- A top-N over an inner window join aggregated by its windows: join, window aggregation, then each window's ranking.
CREATE SINK top_customers WITH (connector = 'stdout') AS
SELECT * FROM (
  SELECT window_start, customer, paid, ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY paid DESC, customer) AS rn
  FROM (SELECT o.window_start, o.window_end, o.customer, sum(p.amount) AS paid
        FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o
        JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start
        GROUP BY o.window_start, o.window_end, o.customer) AS w) WHERE rn <= 2
====
-- A subquery over a window table function merges into the query that aggregates it by the window.
CREATE SINK windowed_subquery WITH (connector = 'stdout') AS
SELECT ws, sensor, count(*) AS n FROM (
  SELECT sensor, window_start AS ws, window_end AS we, value FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND) WHERE ok) AS r
WHERE r.value > 0 GROUP BY ws, we, sensor
====
-- Without GROUP BY the window is refused, as over the source itself.
CREATE SINK windowed_rows WITH (connector = 'stdout') AS
SELECT sensor, ws FROM (SELECT sensor, window_start AS ws FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND)) AS r
====
-- A window table function over a query: its select list and WHERE over the windows of its source; the time column renamed.
CREATE SINK over_query WITH (connector = 'stdout') AS
SELECT window_start, window_end, kind, count(*) AS n, max(v) AS top
FROM TUMBLE(TABLE (SELECT upper(sensor) AS kind, value AS v, ts AS at FROM readings r WHERE r.ok), DESCRIPTOR(at), INTERVAL '10' SECOND) AS w
WHERE w.v > 0 GROUP BY window_start, window_end, kind
====
-- Over a query of a query, with a star.
CREATE SINK over_nested WITH (connector = 'stdout') AS
SELECT window_start, window_end, count(*) FROM HOP(TABLE (SELECT * FROM (SELECT * FROM readings WHERE ok) AS a WHERE value > 1),
  DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND) GROUP BY window_start, window_end
====
-- The time column must be the source's, as it is.
CREATE SINK computed_time WITH (connector = 'stdout') AS
SELECT window_start, count(*) FROM TUMBLE(TABLE (SELECT ts + INTERVAL '1' HOUR AS t FROM readings), DESCRIPTOR(t), INTERVAL '10' SECOND)
GROUP BY window_start, window_end
====
-- Over a join's rows: not yet.
CREATE SINK over_join WITH (connector = 'stdout') AS
SELECT window_start, count(*) FROM TUMBLE(TABLE (SELECT o.id, p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id), DESCRIPTOR(paid_at), INTERVAL '1' MINUTE)
GROUP BY window_start, window_end
====
-- A window table function over a query of an interval join: the pairs aggregated by windows of the payment time.
CREATE SINK paid_per_minute_interval WITH (connector = 'stdout') AS
SELECT window_start, window_end, count(*) AS pairs, sum(amount) AS paid
FROM TUMBLE(TABLE (SELECT o.id, p.amount, p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id
  AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' MINUTE WHERE o.customer <> 'x'), DESCRIPTOR(paid_at), INTERVAL '1' MINUTE)
GROUP BY window_start, window_end
====
-- By the order time: the join's watermark is passed on ten minutes behind.
CREATE SINK placed_per_minute WITH (connector = 'stdout') AS
SELECT window_start, count(*) AS pairs
FROM HOP(TABLE (SELECT o.placed_at AS t FROM orders o LEFT JOIN payments p ON o.id = p.order_id
  AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' MINUTE), DESCRIPTOR(t), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)
GROUP BY window_start, window_end
====
-- The side an outer join pads with NULLs has no time to window by.
CREATE SINK padded_time WITH (connector = 'stdout') AS
SELECT window_start, count(*) FROM TUMBLE(TABLE (SELECT p.paid_at FROM orders o LEFT JOIN payments p ON o.id = p.order_id
  AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' MINUTE), DESCRIPTOR(paid_at), INTERVAL '1' MINUTE)
GROUP BY window_start, window_end
====
-- Nor a join without a time bound.
CREATE SINK unbounded_time WITH (connector = 'stdout') AS
SELECT window_start, count(*) FROM TUMBLE(TABLE (SELECT p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id), DESCRIPTOR(paid_at), INTERVAL '1' MINUTE)
GROUP BY window_start, window_end
====
-- Windows of a join's rows are grouped by, as a source's.
CREATE SINK join_windows_ungrouped WITH (connector = 'stdout') AS
SELECT * FROM TUMBLE(TABLE (SELECT o.id, p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id
  AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' MINUTE), DESCRIPTOR(paid_at), INTERVAL '1' MINUTE)
====
-- SESSION windows of a join's rows, per customer.
CREATE SINK payment_sessions WITH (connector = 'stdout') AS
SELECT customer, window_start, window_end, count(*) AS payments
FROM SESSION(TABLE (SELECT o.customer, p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id
  AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' MINUTE), DESCRIPTOR(paid_at), INTERVAL '5' MINUTE)
GROUP BY customer, window_start, window_end
====
-- A top-N over an inner window join's rows by window_end is final: every pair of a window has come once the join's watermark passes its end.
CREATE SINK top_payments WITH (connector = 'stdout') AS
SELECT * FROM (SELECT o.id, p.amount, o.window_end AS we, ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn
  FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o
  JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start) WHERE rn <= 3
====
-- By window_start it still updates: the window's pairs keep coming until its end.
CREATE SINK top_payments_by_start WITH (connector = 'stdout') AS
SELECT * FROM (SELECT o.id, p.amount, o.window_start AS ws, ROW_NUMBER() OVER (PARTITION BY o.window_start ORDER BY p.amount DESC) AS rn
  FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o
  JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start) WHERE rn <= 3
====
-- A GROUP BY over a UNION ALL in FROM: each query over its own source,
-- their rows the union's, aggregated together.
CREATE SINK per_who WITH (connector = 'stdout') AS
SELECT who, count(*) AS n, sum(amount) AS total
FROM (SELECT customer AS who, amount FROM orders WHERE amount > 0
      UNION ALL SELECT CAST(order_id AS text), amount FROM payments) AS u
WHERE who IS NOT NULL
GROUP BY who
====
-- Windows over a UNION ALL: the time column is each query's WATERMARK
-- column, so each query's rows keep their source's watermark.
CREATE SINK per_minute_union WITH (connector = 'stdout') AS
SELECT window_start, window_end, count(*) AS n
FROM TUMBLE(TABLE (SELECT id, placed_at AS at FROM orders UNION ALL SELECT order_id, paid_at FROM payments),
            DESCRIPTOR(at), INTERVAL '1' MINUTE)
GROUP BY window_start, window_end
====
-- A query that filters and projects a UNION ALL's rows runs over each of
-- its queries: a UNION ALL of stateless queries, the narrower column cast.
CREATE SINK shouted_union WITH (connector = 'stdout') AS
SELECT upper(who) AS shout, id * 2 AS twice
FROM (SELECT id, customer AS who FROM orders UNION ALL SELECT order_id, 'x' FROM payments WHERE amount > 5) u
WHERE id > 0
KEY BY who
====
-- A top-N of a UNION ALL's rows: ranked over the union's columns, each
-- query's rows shuffled by the partition to the one top-N.
CREATE SINK top_union WITH (connector = 'stdout') AS
SELECT who, n, rn FROM (
  SELECT who, n, ROW_NUMBER() OVER (PARTITION BY who ORDER BY n DESC) AS rn
  FROM (SELECT customer AS who, id AS n FROM orders UNION ALL SELECT url, user_id FROM clicks) u
  WHERE n > 0) r
WHERE rn <= 3
====
-- A UNION ALL as the left side of a join of two streams: each query's rows
-- shuffled by the join key to the join's tasks, keeping their source's
-- watermark.
CREATE SINK paid_union WITH (connector = 'stdout') AS
SELECT u.id, u.kind, p.amount
FROM (SELECT id, 'order' AS kind, placed_at AS at FROM orders UNION ALL SELECT order_id, 'payment', paid_at FROM payments) u
JOIN payments p ON u.id = p.order_id AND p.paid_at BETWEEN u.at AND u.at + INTERVAL '10' SECOND
WHERE u.id > 0
====
-- A UNION ALL on the right side of a join of two streams, and a query
-- that filters and projects orders on its left: each side fed by its
-- queries, their rows shuffled by the join key to the join's tasks.
CREATE SINK fed_sides WITH (connector = 'stdout') AS
SELECT o.id, u.kind
FROM (SELECT id, placed_at FROM orders WHERE amount > 10) o
LEFT JOIN (SELECT order_id, 'payment' AS kind, paid_at AS at FROM payments UNION ALL SELECT id, 'order', placed_at FROM orders) u
  ON o.id = u.order_id AND u.at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' SECOND
====
-- A subquery joined with a table: merged into the join, its WHERE over
-- the stream, the kept side, after the lookup.
CREATE SINK sub_table WITH (connector = 'stdout') AS
SELECT o.id, c.tier
FROM (SELECT id, upper(customer) AS who FROM orders WHERE amount > 10) o
LEFT JOIN customers c ON o.who = c.name
====
-- A UNION ALL joined with a table: the join runs over each of its queries.
CREATE SINK union_table WITH (connector = 'stdout') AS
SELECT u.id, c.tier
FROM (SELECT id, customer AS who FROM orders UNION ALL SELECT user_id, url FROM clicks) u
JOIN customers c ON u.who = c.name
====
-- Tables joined one after another: the second looked up by the first's
-- column, each event's lookups in order.
CREATE SINK two_tables WITH (connector = 'stdout') AS
SELECT o.id, c.tier, boss.since
FROM orders o JOIN customers c ON o.customer = c.name
LEFT JOIN customers boss ON c.tier = boss.name
====
-- A top-N over a stream joined with a table: the joined rows ranked.
CREATE SINK top_per_tier WITH (connector = 'topic', topic = 'top') AS
SELECT tier, id, rn FROM (
  SELECT c.tier, o.id, ROW_NUMBER() OVER (PARTITION BY c.tier ORDER BY o.amount DESC) AS rn
  FROM orders o JOIN customers c ON o.customer = c.name) r
WHERE rn <= 3
====
-- A window aggregation over a stream joined with a table.
CREATE SINK per_tier_minute WITH (connector = 'stdout') AS
SELECT c.tier, window_start, window_end, count(*) AS n
FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o JOIN customers c ON o.customer = c.name
GROUP BY c.tier, window_start, window_end
====
-- A GROUP BY over a UNION ALL joined with a table: the union fed, each
-- query's rows looked up before they are shuffled.
CREATE SINK union_tiers WITH (connector = 'topic', topic = 'x') AS
SELECT c.tier, count(*) AS n
FROM (SELECT id, customer AS who FROM orders UNION ALL SELECT user_id, url FROM clicks) u
JOIN customers c ON u.who = c.name
GROUP BY c.tier
====
-- A table joined to the pairs of a join of two streams: looked up in the join's tasks, before WHERE's residue.
CREATE SINK labelled_payments WITH (connector = 'topic', topic = 'x') AS
SELECT o.id, p.amount, c.tier FROM orders o JOIN payments p ON o.id = p.order_id
  AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' HOUR
  LEFT JOIN customers c ON o.customer = c.name WHERE c.tier IS DISTINCT FROM 'gold' AND o.amount > 10
====
-- A top-N over a window joined with a table: each event looked up once, then ranked in each of its windows.
CREATE SINK top_tiers WITH (connector = 'topic', topic = 'x') AS
SELECT window_start, tier, id FROM (
  SELECT o.window_start, c.tier, o.id, ROW_NUMBER() OVER (PARTITION BY o.window_start, o.window_end, c.tier ORDER BY o.amount DESC) AS rn
  FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o JOIN customers c ON o.customer = c.name) r
WHERE rn <= 3
====
CREATE SINK refunded WITH (connector = 'topic', topic = 'x') AS
SELECT o.id, p.amount, r.amount AS refunded, c.tier
FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE
LEFT JOIN payments r ON r.order_id = p.order_id AND r.amount < 0 AND r.paid_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '1' HOUR
JOIN customers c ON o.customer = c.name
WHERE p.amount > 0 AND o.customer <> 'test'
====
CREATE SINK refunds_per_customer WITH (connector = 'topic', topic = 'x') AS
SELECT o.customer, count(*) AS refunds, sum(r.amount) AS refunded
FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE
JOIN payments r ON r.order_id = p.order_id AND r.amount < 0 AND r.paid_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '1' HOUR
GROUP BY o.customer
