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
  wtime TIMESTAMP(3),
  wtime_str STRING,
  wtime_hm STRING,
  cnt BIGINT
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT window_start, window_end, window_time, CAST(window_time AS STRING), DATE_FORMAT(window_time, 'HH:mm:ss.SSS'), COUNT(*)
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '90' SECOND))
GROUP BY window_start, window_end, window_time;
