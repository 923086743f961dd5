-- Nexmark q5, hot items: in each 10-second window sliding every 2 seconds,
-- the auction(s) with the most bids. Two pipelines: the first counts each
-- auction's bids per window and writes the counts to a topic as each
-- window closes; the second keeps, per window, the counts ranked first
-- (RANK keeps ties, as Flink's join of the counts with their maximum
-- does), emitting each window's once the watermark passes it.
-- Run it: tide sql -f examples/nexmark/q5.sql   (then: tide consume nexmark_q5)
--
-- The second pipeline closes a window when counts of windows 10 s later
-- arrive; a run over a bounded generator ends before its last windows
-- close, unless the counts' topic is then read as bounded too
-- (scan.bounded.mode = 'latest-offset' on nexmark_q5_bids, once the
-- first sink has finished): that is how the tests and `tide bench
-- nexmark` run it.

CREATE SOURCE IF NOT EXISTS bid (
    auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamp, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'bid');

CREATE SINK q5_auction_bids WITH (connector = 'topic', topic = 'nexmark_q5_bids') AS
SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
FROM HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND)
GROUP BY auction, window_start, window_end;

-- The windows' counts come out in window order: a short lateness holds.
CREATE SOURCE IF NOT EXISTS nexmark_q5_bids (
    auction bigint, num bigint, starttime timestamp, endtime timestamp,
    WATERMARK FOR starttime AS starttime - INTERVAL '10' SECOND
) WITH (connector = 'topic', topic = 'nexmark_q5_bids');

CREATE SINK nexmark_q5 WITH (connector = 'topic', topic = 'nexmark_q5') AS
SELECT auction, num, starttime, endtime
FROM (
    SELECT auction, num, starttime, endtime,
           RANK() OVER (PARTITION BY starttime ORDER BY num DESC) AS rank_number
    FROM nexmark_q5_bids
) WHERE rank_number <= 1;
