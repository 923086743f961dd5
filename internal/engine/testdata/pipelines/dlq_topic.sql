-- 'dlq.topic' names the dead-letter topic (instead of <sink>.dlq): records
-- that fail to decode or evaluate go there, as they came, with headers.
CREATE SOURCE payments (id bigint NOT NULL, amount numeric) WITH (connector = 'topic', topic = 'payments');
CREATE SINK checked WITH (connector = 'topic', topic = 'checked', dlq.topic = 'payments_rejected') AS
SELECT id, 100 / amount AS inverse FROM payments;
SHOW TOPICS;
