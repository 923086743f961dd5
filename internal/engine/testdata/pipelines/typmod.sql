-- A declared numeric(p, s) applies as Postgres applies it on INSERT:
-- rounded to the scale, an error (dead letter) beyond the precision.
CREATE SOURCE prices (sku text, price numeric(5, 2)) WITH (connector = 'topic', topic = 'prices');
CREATE SINK priced WITH (connector = 'topic', topic = 'priced') AS SELECT sku, price, price * 2 AS double_price FROM prices;
