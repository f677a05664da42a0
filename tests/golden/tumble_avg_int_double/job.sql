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
  avg_amount INT,
  avg_price DOUBLE,
  avg_dec DECIMAL(38, 6),
  avg_as_double DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');

INSERT INTO res
SELECT window_start, window_end, AVG(amount), AVG(price), AVG(CAST(amount AS DECIMAL(10, 2))), AVG(CAST(amount AS DOUBLE))
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end;
