-- Nexmark q1, currency conversion: every bid with its price in euros
-- (dollars x 0.908).
-- Run it: tide sql -f examples/nexmark/q1.sql   (then: tide consume nexmark_q1)

CREATE SOURCE IF NOT EXISTS bid (
    auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamp, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'bid');

CREATE SINK nexmark_q1 WITH (connector = 'topic', topic = 'nexmark_q1') AS
SELECT auction, bidder, 0.908 * price AS price, date_time, extra
FROM bid;
