CREATE MATERIALIZED VIEW clicks_per_user AS
SELECT user_id, count(*) AS n FROM clicks GROUP BY user_id
====
CREATE MATERIALIZED VIEW IF NOT EXISTS totals (u, n) WITH (delivery.guarantee = 'exactly_once') AS SELECT user_id, count(*) FROM clicks GROUP BY 1
====
drop materialized view if exists totals
====
SHOW VIEWS
====
CREATE MATERIALIZED VIEW v WITH (a = 1)
====
CREATE VIEW v AS SELECT 1
