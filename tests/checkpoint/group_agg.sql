CREATE TABLE events (
  id BIGINT, k STRING, v BIGINT, ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'input/events', 'format' = 'csv');

CREATE TABLE res (k STRING, n BIGINT, total BIGINT, lo BIGINT, distinct_v BIGINT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'debezium-json');

INSERT INTO res
SELECT k, COUNT(*), SUM(v), MIN(v), COUNT(DISTINCT v % 7) FROM events GROUP BY k;
