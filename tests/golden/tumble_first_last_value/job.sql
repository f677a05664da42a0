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
  first_uid STRING,
  last_uid STRING,
  first_amount INT,
  last_amount INT
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');

INSERT INTO res
SELECT window_start, window_end, FIRST_VALUE(uid), LAST_VALUE(uid), FIRST_VALUE(amount), LAST_VALUE(amount)
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end;
