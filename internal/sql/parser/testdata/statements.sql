DROP SOURCE clicks
====
DROP SINK IF EXISTS "Out"
====
drop source if
====
SHOW SOURCES;
show sinks;
SHOW topics;
Show Pipelines
====
DESCRIBE clicks
====
DESC clicks;
====
EXPLAIN SELECT a FROM t
====
-- a script: empty statements and comments are skipped
;; SELECT 1; /* between */ ; SELECT 2 -- trailing
;
====
-- nothing but comments
/* nested /* comment */ still comment */
-- done
====
SELECT 1
