CREATE TABLE events (
  id BIGINT, k STRING, v BIGINT, ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'input/events', 'format' = 'csv');

CREATE TABLE res (k STRING, id BIGINT, v BIGINT, rn BIGINT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'debezium-json');

INSERT INTO res
SELECT k, id, v, rn FROM (
  SELECT k, id, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC, id) AS rn FROM events
) WHERE rn <= 2;
