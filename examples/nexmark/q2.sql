-- Nexmark q2, selection: the bids on auctions whose id is divisible by 123.
-- Run it: tide sql -f examples/nexmark/q2.sql   (then: tide consume nexmark_q2)

CREATE SOURCE IF NOT EXISTS bid (
    auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamp, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'bid');

CREATE SINK nexmark_q2 WITH (connector = 'topic', topic = 'nexmark_q2') AS
SELECT auction, price
FROM bid
WHERE MOD(auction, 123) = 0;
