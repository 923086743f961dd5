-- A source's topic is created when a pipeline first reads it
-- (topic.create defaults to true, with topic.partitions partitions); with
-- topic.create = 'false' a missing topic fails the CREATE SINK.
CREATE SOURCE later (a integer) WITH (connector = 'topic', topic = 'not_yet', topic.partitions = '2');
CREATE SOURCE strict (a integer) WITH (connector = 'topic', topic = 'absent', topic.create = 'false');
CREATE SINK copy WITH (connector = 'topic', topic = 'copy', topic.partitions = '3') AS SELECT a FROM later;
SHOW TOPICS;
CREATE SINK fails WITH (connector = 'blackhole') AS SELECT a FROM strict;
