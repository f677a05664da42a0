-- Window Top-N and window deduplication (Flink's WindowRank / WindowDeduplicate): append-only
-- results fired when the watermark passes the window end, written to append-only csv sinks.
CREATE TABLE bids (
  ts TIMESTAMP(3),
  item STRING,
  price INT,
  supplier STRING,
  WATERMARK FOR ts AS ts - INTERVAL '2' MINUTE
) WITH ('connector' = 'filesystem', 'path' = 'input/bids.csv', 'format' = 'csv');

CREATE TABLE top_suppliers (window_start TIMESTAMP(3), window_end TIMESTAMP(3), supplier STRING, total INT, cnt BIGINT, rn BIGINT)
  WITH ('connector' = 'filesystem', 'path' = 'output/top_suppliers', 'format' = 'csv');
CREATE TABLE top_bids (window_start TIMESTAMP(3), window_end TIMESTAMP(3), item STRING, price INT, rn BIGINT)
  WITH ('connector' = 'filesystem', 'path' = 'output/top_bids', 'format' = 'csv');
CREATE TABLE first_bid (window_start TIMESTAMP(3), window_end TIMESTAMP(3), item STRING, ts TIMESTAMP(3), price INT)
  WITH ('connector' = 'filesystem', 'path' = 'output/first_bid', 'format' = 'csv');
CREATE TABLE last_bid (window_end TIMESTAMP(3), supplier STRING, item STRING, price INT)
  WITH ('connector' = 'filesystem', 'path' = 'output/last_bid', 'format' = 'csv');

EXECUTE STATEMENT SET BEGIN
-- Top-N over a window aggregation.
INSERT INTO top_suppliers
SELECT window_start, window_end, supplier, total, cnt, rn FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rn
  FROM (
    SELECT window_start, window_end, supplier, SUM(price) AS total, COUNT(*) AS cnt
    FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' MINUTE))
    GROUP BY window_start, window_end, supplier
  )
) WHERE rn <= 2;
-- Top-N directly on a window TVF (hopping windows: a row is in two windows).
INSERT INTO top_bids
SELECT window_start, window_end, item, price, rn FROM (
  SELECT window_start, window_end, item, price,
    ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn
  FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' MINUTE, INTERVAL '10' MINUTE))
) WHERE rn <= 3;
-- Window deduplication, keep the first row per item (ORDER BY the time attribute ASC).
INSERT INTO first_bid
SELECT window_start, window_end, item, ts, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, item ORDER BY ts ASC) AS rn
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' MINUTE))
) WHERE rn = 1;
-- Window deduplication, keep the last row per supplier (ORDER BY the time attribute DESC).
INSERT INTO last_bid
SELECT window_end, supplier, item, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, supplier ORDER BY ts DESC) AS rn
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' MINUTE))
) WHERE rn <= 1;
END;
