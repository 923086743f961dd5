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
====
CREATE SINK all_events WITH (connector = 'topic', topic = 'all') AS
SELECT id, 'web' AS channel FROM web_clicks WHERE id > 0
UNION ALL SELECT user_id, 'app' FROM app_clicks
UNION ALL SELECT id, channel FROM (SELECT id, 'kiosk' AS channel FROM kiosk) k KEY BY id
====
CREATE SINK over_query WITH (connector = 'stdout') AS
SELECT window_start, count(*) FROM TUMBLE(data => TABLE (SELECT a, ts FROM t WHERE a > 0), timecol => DESCRIPTOR(ts), size => INTERVAL '1' MINUTE) AS w
GROUP BY window_start, window_end
