CREATE TABLE events (ts TIMESTAMP(3), k STRING, amount INT, price DOUBLE,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'filesystem', 'path' = 'benchmarks/engine/data/events.csv', 'format' = 'csv');
CREATE TABLE sink (k STRING, amount INT, total DOUBLE) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT UPPER(k), amount, price * amount FROM events WHERE amount > 10;
