-- Nexmark q5, hot items: in each 10-second window sliding every 2 seconds,
-- the auction(s) with the most bids. Flink's q5 joins each window's counts
-- with their maximum; this is the same result written as a top-N over the
-- window aggregation (RANK keeps ties, as the join does), which Tide runs
-- in one pipeline of two stateful stages: the counts per auction and
-- window, then each window's first rank, emitted as the window closes.
-- Run it: tide sql -f examples/nexmark/q5.sql   (then: tide consume nexmark_q5)

CREATE SOURCE IF NOT EXISTS bid (
    auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamp, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'bid');

CREATE SINK nexmark_q5 WITH (connector = 'topic', topic = 'nexmark_q5') AS
SELECT auction, num, starttime, endtime
FROM (
    SELECT auction, num, starttime, endtime,
           RANK() OVER (PARTITION BY starttime, endtime ORDER BY num DESC) AS rank_number
    FROM (
        SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
        FROM HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND)
        GROUP BY auction, window_start, window_end
    ) AS auction_bids
) WHERE rank_number <= 1;
