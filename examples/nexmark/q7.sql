-- Nexmark q7, highest bid: in each 10-second tumbling window, the bids
-- whose price is the window's highest. Two pipelines: the first writes
-- each window's highest price, stamped with the window's end, to a topic;
-- the second joins the bids with it, on the price, within the window
-- (Flink's q7 writes the same join with BETWEEN, which also takes a bid
-- at the window's very end into the window before).
-- Run it: tide sql -f examples/nexmark/q7.sql   (then: tide consume nexmark_q7)

CREATE SOURCE IF NOT EXISTS bid (
    auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamp, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'bid');

CREATE SINK q7_window_max WITH (connector = 'topic', topic = 'nexmark_q7_max') AS
SELECT max(price) AS maxprice, window_end AS date_time
FROM TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND)
GROUP BY window_start, window_end;

-- The windows' results come out in window order: a short lateness holds.
CREATE SOURCE IF NOT EXISTS nexmark_q7_max (
    maxprice bigint, date_time timestamp,
    WATERMARK FOR date_time AS date_time - INTERVAL '10' SECOND
) WITH (connector = 'topic', topic = 'nexmark_q7_max');

CREATE SINK nexmark_q7 WITH (connector = 'topic', topic = 'nexmark_q7') AS
SELECT b.auction, b.price, b.bidder, b.date_time, b.extra
FROM bid AS b JOIN nexmark_q7_max AS m
  ON b.price = m.maxprice
 AND b.date_time >= m.date_time - INTERVAL '10' SECOND AND b.date_time < m.date_time;
