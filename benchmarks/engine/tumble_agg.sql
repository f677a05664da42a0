CREATE TABLE events (ts TIMESTAMP(3), k STRING, amount INT, price DOUBLE,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'filesystem', 'path' = 'benchmarks/engine/data/events.csv', 'format' = 'csv');
CREATE TABLE sink (window_start TIMESTAMP(3), k STRING, cnt BIGINT, total BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink
SELECT window_start, k, COUNT(*), SUM(amount)
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, k;
