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
  min_amount INT,
  max_amount INT,
  sum_price DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT window_start, window_end, COUNT(*), SUM(amount), MIN(amount), MAX(amount), SUM(price)
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end;
