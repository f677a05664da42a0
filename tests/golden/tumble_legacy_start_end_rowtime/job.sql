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
  wrowtime TIMESTAMP(3),
  uid STRING,
  cnt BIGINT,
  total INT
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT TUMBLE_START(ts, INTERVAL '1' MINUTE), TUMBLE_END(ts, INTERVAL '1' MINUTE), TUMBLE_ROWTIME(ts, INTERVAL '1' MINUTE),
       uid, COUNT(*), SUM(amount)
FROM events
GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), uid;
