-- Nexmark q3, local item suggestion: the auctions in category 10 whose
-- seller lives in Oregon, Idaho or California, with the seller's name and
-- city. A regular join of two streams: each auction meets its seller
-- whichever arrives first, so both sides' rows stay in the join's state
-- (add state.ttl = '1h' to the sink's options to bound it).
-- Run it: tide sql -f examples/nexmark/q3.sql   (then: tide consume nexmark_q3)

CREATE SOURCE IF NOT EXISTS person (
    id bigint, name text, email_address text, credit_card text, city text, state text, date_time timestamp, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'person');

CREATE SOURCE IF NOT EXISTS auction (
    id bigint, item_name text, description text, initial_bid bigint, reserve bigint,
    date_time timestamp, expires timestamp, seller bigint, category bigint, extra text,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (connector = 'nexmark', table = 'auction');

CREATE SINK nexmark_q3 WITH (connector = 'topic', topic = 'nexmark_q3') AS
SELECT p.name, p.city, p.state, a.id
FROM auction AS a JOIN person AS p ON a.seller = p.id
WHERE a.category = 10 AND (p.state = 'OR' OR p.state = 'ID' OR p.state = 'CA');
