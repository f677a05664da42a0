CREATE TABLE events (
  ts TIMESTAMP(3),
  uid STRING,
  category STRING,
  amount INT,
  price DOUBLE,
  WATERMARK FOR ts AS ts
) WITH ('connector' = 'filesystem', 'path' = 'input/events.csv', 'format' = 'csv');
CREATE TABLE res (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  cnt BIGINT,
  total INT,
  max_price DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT HOP_START(ts, INTERVAL '30' SECOND, INTERVAL '2' MINUTE), HOP_END(ts, INTERVAL '30' SECOND, INTERVAL '2' MINUTE),
       COUNT(*), SUM(amount), MAX(price)
FROM events
GROUP BY HOP(ts, INTERVAL '30' SECOND, INTERVAL '2' MINUTE);
