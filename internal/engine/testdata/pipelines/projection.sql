-- A pipeline decodes only the columns it reads (Flink pushes projections
-- into its formats the same way): 'note' is never read, so a value it
-- could not hold is no error; 'amount' is read, so its bad value
-- dead-letters the record; 'id' is NOT NULL, so it is checked though
-- unread; and bad JSON anywhere is still bad.
CREATE SOURCE orders (id bigint NOT NULL, amount numeric, note int, shop text) WITH (connector = 'topic', topic = 'orders');
CREATE SINK large WITH (connector = 'topic', topic = 'large') AS
SELECT shop, amount * 2 AS doubled FROM orders WHERE amount > 10;
