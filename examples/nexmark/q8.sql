-- Nexmark q8, monitor new users: the people who registered and opened an
-- auction within the same 10-second tumbling window. Three pipelines:
-- the people and the sellers of each window are written to topics, and a
-- join of the two on the person and the window's start finds who is in
-- both.
-- Run it: tide sql -f examples/nexmark/q8.sql   (then: tide consume nexmark_q8)

CREATE SOURCE IF NOT EXISTS person (
    id bigint, name text, email_address text, credit_card text, city text, state text, date_time timestamp, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'person');

CREATE SOURCE IF NOT EXISTS auction (
    id bigint, item_name text, description text, initial_bid bigint, reserve bigint,
    date_time timestamp, expires timestamp, seller bigint, category bigint, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'auction');

CREATE SINK q8_window_people WITH (connector = 'topic', topic = 'nexmark_q8_person') AS
SELECT id, name, window_start AS starttime
FROM TUMBLE(TABLE person, DESCRIPTOR(date_time), INTERVAL '10' SECOND)
GROUP BY id, name, window_start, window_end;

CREATE SINK q8_window_sellers WITH (connector = 'topic', topic = 'nexmark_q8_seller') AS
SELECT seller, window_start AS starttime
FROM TUMBLE(TABLE auction, DESCRIPTOR(date_time), INTERVAL '10' SECOND)
GROUP BY seller, window_start, window_end;

-- Each window's rows come out when it closes, the windows in order; the
-- lateness covers the aggregate tasks writing a window's rows at slightly
-- different times.
CREATE SOURCE IF NOT EXISTS nexmark_q8_person (
    id bigint, name text, starttime timestamp,
    WATERMARK FOR starttime AS starttime - INTERVAL '1' MINUTE
) WITH (connector = 'topic', topic = 'nexmark_q8_person');

CREATE SOURCE IF NOT EXISTS nexmark_q8_seller (
    seller bigint, starttime timestamp,
    WATERMARK FOR starttime AS starttime - INTERVAL '1' MINUTE
) WITH (connector = 'topic', topic = 'nexmark_q8_seller');

CREATE SINK nexmark_q8 WITH (connector = 'topic', topic = 'nexmark_q8') AS
SELECT p.id, p.name, p.starttime
FROM nexmark_q8_person AS p JOIN nexmark_q8_seller AS a
  ON p.id = a.seller AND p.starttime = a.starttime;
