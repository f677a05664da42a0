-- group_agg.sql with mini-batch: buffered rows are applied before each barrier, so a
-- restore neither loses nor repeats them.
SET 'table.exec.mini-batch.enabled' = 'true';
SET 'table.exec.mini-batch.allow-latency' = '100 ms';
SET 'table.exec.mini-batch.size' = '700';

CREATE TABLE events (
  id BIGINT, k STRING, v BIGINT, ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'input/events', 'format' = 'csv');

CREATE TABLE res (k STRING, n BIGINT, total BIGINT, lo BIGINT, distinct_v BIGINT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'debezium-json');

INSERT INTO res
SELECT k, COUNT(*), SUM(v), MIN(v), COUNT(DISTINCT v % 7) FROM events GROUP BY k;
