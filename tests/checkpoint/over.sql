CREATE TABLE events (
  id BIGINT, k STRING, v BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'filesystem', 'path' = 'input/events', 'format' = 'csv');

CREATE TABLE res (k STRING, id BIGINT, s BIGINT, c BIGINT, mx BIGINT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT k, id,
  SUM(v) OVER w, COUNT(*) OVER w, MAX(v) OVER w
FROM events
WINDOW w AS (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '20' SECOND PRECEDING AND CURRENT ROW);
