CREATE SOURCE clicks (
  user_id bigint NOT NULL,
  url text,
  ts timestamp,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  connector = 'kafka',
  topic = 'clicks',
  format = 'json'
)
====
create source if not exists Orders (id int, amount numeric(10, 2), note varchar(200), flags bool[]) with (connector = kafka, partitions = 3, 'format.json.fail-on-missing' = true, offset.reset = -1, format.json.x = FALSE)
====
-- every canonical type spelling
CREATE SOURCE types (
  a int, b int4, c integer, d int2, e smallint, f int8, g bigint,
  h float8, i double precision, j float, k real, l float4, m float(10), n float(53),
  o numeric, p decimal(12,3), q text, r varchar, s character varying(20), t char(3), u character,
  v bool, w boolean, x bytea, y timestamp, z timestamp without time zone,
  aa timestamptz, ab timestamp with time zone, ac timestamp(3) with time zone, ad date, ae time,
  af interval, ag json, ah jsonb, ai int[], aj text[3], ak MyType, al "MyType", am time with time zone
) WITH (connector = 'datagen')
====
-- keywords that stay usable as column names
CREATE SOURCE kv (key bytea, value bytea, topic text, source text, format text, timestamp timestamptz, "partition" int, watermark int, "select" int, interval int, date date, filter int, if int, key_by int)
WITH (connector = 'kafka')
====
CREATE SOURCE "Mixed Case" ("Weird Col" text NOT NULL, x int NULL) WITH ("Connector" = 'kafka', "topic.name" = 'x')
====
CREATE SOURCE s (ts timestamptz, WATERMARK FOR ts AS ts) WITH (connector = 'kafka', topic = $$clicks$$)
====
CREATE SOURCE if (x int) WITH (connector = 'kafka')
====
CREATE SOURCE shop WITH (connector = 'postgres-cdc', dsn = 'postgres://db/shop', tables = 'orders')
