CREATE SOURCE s (a integer, b text) WITH (connector = 'topic', topic = 'in');
CREATE SINK k WITH (connector = 'topic', topic = 'out') AS SELECT a, c FROM s;
