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
SELECT SESSION_START(ts, INTERVAL '30' SECOND), SESSION_END(ts, INTERVAL '30' SECOND), SESSION_ROWTIME(ts, INTERVAL '30' SECOND),
       uid, COUNT(*), SUM(amount)
FROM events
GROUP BY SESSION(ts, INTERVAL '30' SECOND), uid;
