CREATE TABLE events (
  ts TIMESTAMP(3),
  uid STRING,
  amount INT,
  price DOUBLE,
  WATERMARK FOR ts AS ts
) WITH ('connector' = 'filesystem', 'path' = 'input/events.json', 'format' = 'json');
CREATE TABLE res (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  cnt_all BIGINT,
  cnt_uid BIGINT,
  cnt_amount BIGINT,
  distinct_uid BIGINT,
  sum_amount INT,
  min_price DOUBLE,
  max_uid STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');

INSERT INTO res
SELECT window_start, window_end, COUNT(*), COUNT(uid), COUNT(amount), COUNT(DISTINCT uid), SUM(amount), MIN(price), MAX(uid)
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end;
