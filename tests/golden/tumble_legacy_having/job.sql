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
  category STRING,
  cnt BIGINT,
  total INT,
  avg_price DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT TUMBLE_START(ts, INTERVAL '2' MINUTE), TUMBLE_END(ts, INTERVAL '2' MINUTE), category, COUNT(*), SUM(amount), AVG(price)
FROM events
GROUP BY TUMBLE(ts, INTERVAL '2' MINUTE), category
HAVING SUM(amount) > 3 AND AVG(price) < 50;
