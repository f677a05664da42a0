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
  total INT
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT window_start, window_end, category, COUNT(*), SUM(amount)
FROM TABLE(CUMULATE(TABLE events, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '2' MINUTE))
GROUP BY window_start, window_end, category;
