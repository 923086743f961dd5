-- Nexmark q4, average closing price per category: each auction's highest
-- bid placed while it was open (between its date_time and expires), then
-- the average of those per category. A join of two streams and two
-- aggregations in one pipeline of two stateful stages: the join, whose
-- tasks also keep each auction's maximum (the group key holds the join
-- key), then the average per category, which takes back an auction's old
-- maximum whenever a higher bid replaces it. The WHERE bound keeps each
-- bid in the join only until the auctions' watermark passes it. The
-- result updates: one row per category, keyed by it (a compacted topic,
-- a postgres table or a view hold the latest).
-- Run it: tide sql -f examples/nexmark/q4.sql   (then: tide consume nexmark_q4)

CREATE SOURCE IF NOT EXISTS auction (
    id bigint, item_name text, description text, initial_bid bigint, reserve bigint,
    date_time timestamp, expires timestamp, seller bigint, category bigint, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'auction');

CREATE SOURCE IF NOT EXISTS bid (
    auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamp, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'bid');

CREATE SINK nexmark_q4 WITH (connector = 'topic', topic = 'nexmark_q4') AS
SELECT Q.category, avg(Q.final) AS avg_final
FROM (
    SELECT max(B.price) AS final, A.category
    FROM auction AS A JOIN bid AS B ON A.id = B.auction
    WHERE B.date_time BETWEEN A.date_time AND A.expires
    GROUP BY A.id, A.category
) AS Q
GROUP BY Q.category;
