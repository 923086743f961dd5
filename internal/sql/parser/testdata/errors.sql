SELECT count(*) AS n FORM t
====
SELECT 'héllo' AS grüß FORM t
====
SELECT a FROM t WHER x = 1
====
SELET a FROM t
====
SELECT a
FROM t
WHERE name = 'bob
====
CREATE SOURCE s (a int b text) WITH (connector = 'kafka')
====
CREATE SOURCE s (a int, ) WITH (connector = 'kafka')
====
CREATE SOURCE s (a) WITH (connector = 'kafka')
====
CREATE SOURCE s (select int) WITH (connector = 'kafka')
====
CREATE SOURCE s (a int, WATERMARK FOR a AS a, b int) WITH (connector = 'kafka')
====
CREATE SOURCE s (a int) WITH (connector = "kafka")
====
CREATE SOURCE s (a int) WITH (topic 'x')
====
CREATE SOURCE s (a int) WITH (connector = 'kafka' topic = 'x')
====
CREATE SOURCE s (a int)
====
CREATE SINK s AS SELECT a FROM t WITH (connector = 'kafka')
====
CREATE SINK s AS SELECT a FROM t
====
CREATE TABLE t (a int)
====
DROP TABLE t
====
SHOW SOURCE
====
EXPLAIN CREATE SOURCE s (a int) WITH (connector = 'kafka')
====
SELECT a FROM t WHERE a == 1
====
SELECT a FROM t WHERE x = 'a' && y = 'b'
====
SELECT a, FROM t
====
SELECT a FROM t WHERE
====
SELECT (a + b FROM t
====
SELECT a b c FROM t
====
SELECT a FROM t WHERE x = 1 2
====
SELECT a FROM t GROUP x
====
SELECT a FROM t GROUP BY a WHERE b
====
SELECT a FROM t KEY a
====
SELECT a FROM t ORDER BY a
====
SELECT a FROM t LIMIT 10
====
SELECT 1 SELECT 2
====
SELECT a FROM t;
SELECT b
  FROM
====
SELECT a < b < c
====
SELECT a FROM t WHERE x IS MAYBE
====
SELECT /* unterminated comment
====
SELECT "unterminated
====
SELECT $$unterminated
====
SELECT ""
====
SELECT 12abc
====
SELECT E'bad \u12 escape'
====
SELECT `a` FROM t
====
SELECT * FROM t WHERE x IN (SELECT y FROM u)
====
SELECT row_number() OVER (PARTITION BY a ORDER BY b DESC NULLS) FROM t
====
SELECT rank() OVER (PARTITION BY a b) FROM t
====
SELECT rank() OVER (ORDER BY b ASC NULLS middle) FROM t
====
SELECT rank() OVER (b) FROM t
====
SELECT a FROM t JOIN u
====
SELECT a FROM t LEFT u ON true
====
SELECT CAST(x int)
====
SELECT CASE WHEN a THEN b
====
SELECT DISTINCT ON (a) a FROM t
====
SELECT INTERVAL '1' DAY TO YEAR
====
SELECT a.b.c FROM t
====
SELECT a FROM s.t
====
SELECT x FROM t WHERE a ! b
====
SELECT x::float(99)
====
SELECT ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))
====
SELECT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT 1
====
SELECT a FROM s UNION SELECT b FROM t
====
SELECT a FROM s UNION ALL
