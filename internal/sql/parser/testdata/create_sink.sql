CREATE SINK clicks_per_minute WITH (connector = 'kafka', topic = 'cpm') AS
SELECT window_start, url, count(*) AS n
FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)
GROUP BY window_start, url
KEY BY url
====
CREATE SINK IF NOT EXISTS out (a, b) WITH (connector = 'postgres', table = 'out', upsert.key = id) AS SELECT x, y FROM src WHERE x > 0
====
create sink s with (connector='stdout') as select * from t
====
EXPLAIN CREATE SINK s WITH (connector = 'stdout') AS SELECT a FROM t
