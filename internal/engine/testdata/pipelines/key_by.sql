-- KEY BY sets each output's record key: a bytea as its bytes, any other
-- type as its text form, NULL as no key. EXPLAIN SELECT shows a query's
-- plan without creating anything.
CREATE SOURCE events (n integer, name text, at timestamptz) WITH (connector = 'topic', topic = 'events');
CREATE SINK by_int WITH (connector = 'topic', topic = 'by_int') AS SELECT n, name FROM events KEY BY n * 10;
CREATE SINK by_text WITH (connector = 'topic', topic = 'by_text') AS SELECT n FROM events KEY BY name;
CREATE SINK by_bytea WITH (connector = 'topic', topic = 'by_bytea') AS SELECT n, _key FROM events KEY BY _key;
CREATE SINK by_const WITH (connector = 'topic', topic = 'by_const') AS SELECT n FROM events WHERE n = 1 KEY BY '\x6869'::bytea;
CREATE SINK by_time WITH (connector = 'topic', topic = 'by_time') AS SELECT n FROM events WHERE at IS NOT NULL KEY BY at;
EXPLAIN SELECT n, upper(name) FROM events WHERE n > 1 KEY BY upper(name);
SHOW TOPICS;
