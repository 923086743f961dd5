SELECT * FROM clicks
====
SELECT DISTINCT c.user_id, c.*, url AS u, url u2, "Weird Col" FROM clicks AS c
====
SELECT ALL a FROM t x WHERE x.a = 1
====
SELECT a FROM t1 JOIN t2 ON t1.id = t2.id
  INNER JOIN t3 ON t3.id = t1.id
  LEFT JOIN t4 ON t4.id = t1.id
  LEFT OUTER JOIN t5 ON true
  RIGHT JOIN t6 ON t6.id = t1.id
  RIGHT OUTER JOIN t7 ON t7.id = t1.id
  FULL JOIN t8 ON t8.id = t1.id
  FULL OUTER JOIN t9 ON t9.id = t1.id
  CROSS JOIN t10
====
-- comma is CROSS JOIN, binding looser than JOIN
SELECT * FROM a, b JOIN c ON b.x = c.x, d
====
SELECT * FROM a JOIN (b JOIN c ON b.x = c.x) ON a.x = b.x
====
SELECT * FROM (a JOIN b ON a.x = b.x)
====
SELECT s.n FROM (SELECT count(*) AS n FROM t GROUP BY k) AS s
====
SELECT n FROM (SELECT 1 AS n) s
====
SELECT window_start, window_end, count(*) FROM HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '1' MINUTE) h GROUP BY window_start, window_end
====
SELECT * FROM SESSION(data => TABLE bids, timecol => DESCRIPTOR(ts), gap => INTERVAL '5' MINUTE) AS s
====
SELECT * FROM TUMBLE(TABLE t, DESCRIPTOR(a, b), size => INTERVAL '1' MINUTE, 10)
====
SELECT user_id, count(*) AS n, sum(amount) FILTER (WHERE amount > 0) AS pos
FROM orders
WHERE status <> 'cancelled'
GROUP BY user_id
HAVING count(*) > 10
KEY BY user_id
====
SELECT a FROM t HAVING count(*) > 1
====
-- SELECT without FROM
SELECT 1, 'two', TRUE
====
SELECT key, value, topic, source, format, timestamp, interval, date, time, json FROM t WHERE timestamp > TIMESTAMP '2024-01-01 00:00:00' KEY BY key
====
SELECT a AS "select", b AS from, c AS "Upper", d AS key FROM t
====
SELECT "select" FROM "from" AS "where"
====
SELECT t.a, "T"."B" FROM t, "T"
====
SELECT left(s, 2), right(s, 3) FROM t
====
SELECT * FROM (SELECT a, ROW_NUMBER() OVER (PARTITION BY a, lower(b) ORDER BY c DESC, d ASC NULLS FIRST, e NULLS LAST) AS rn FROM t) AS s WHERE rn <= 3
====
SELECT rank() OVER (ORDER BY x), dense_rank() OVER (PARTITION BY y), count(*) OVER () FROM t
