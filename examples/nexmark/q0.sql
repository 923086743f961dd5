-- Nexmark q0, pass-through: every bid, unchanged.
-- Run it: tide sql -f examples/nexmark/q0.sql   (then: tide consume nexmark_q0)
-- The bid source is the Nexmark generator in process, 10,000 events/s
-- (of which 92% are bids), unbounded, seed 0; see examples/nexmark/README.md.

CREATE SOURCE IF NOT EXISTS bid (
    auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamp, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'bid');

CREATE SINK nexmark_q0 WITH (connector = 'topic', topic = 'nexmark_q0') AS
SELECT auction, bidder, price, date_time, extra
FROM bid;
