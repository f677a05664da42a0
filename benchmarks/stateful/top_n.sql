-- Updating Top-N: the 3 highest bids of each of 10 000 auctions, over insert-only input.
CREATE TABLE bids (auction INT, price BIGINT, bidder BIGINT) WITH (
  'connector' = 'datagen', 'rows-per-second' = '1000000000', 'number-of-rows' = '${EVENTS}',
  'fields.auction.min' = '1', 'fields.auction.max' = '10000',
  'fields.price.min' = '1', 'fields.price.max' = '1000000',
  'fields.bidder.min' = '1', 'fields.bidder.max' = '1000000');
CREATE TABLE sink (auction INT, price BIGINT, bidder BIGINT, rn BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink
SELECT auction, price, bidder, rn FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bids)
WHERE rn <= 3;
