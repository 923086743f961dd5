-- SELECT * keeps every declared column; the input key and timestamp carry over.
CREATE SOURCE clicks (user_id bigint, url text, ts timestamp) WITH (connector = 'topic', topic = 'clicks');
CREATE SINK clicks_copy WITH (connector = 'topic', topic = 'clicks_copy') AS SELECT * FROM clicks;
