CREATE TABLE events (
  id BIGINT, k STRING, v BIGINT, ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'input/events', 'format' = 'csv');

-- The newest row of each of 4000 buckets (an updating Top-1), grouped by runs of 10 ids:
-- hundreds of groups, new ones appearing and old ones emptied (their rows replaced) as rows
-- arrive, so a checkpoint's changes are a part of the state.
CREATE VIEW latest AS
SELECT id, v FROM (
  SELECT id, v, ROW_NUMBER() OVER (PARTITION BY MOD(id, 4000) ORDER BY ts DESC) AS rn
  FROM events
) WHERE rn = 1;

CREATE TABLE res (b BIGINT, n BIGINT, total BIGINT, top BIGINT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'debezium-json');

INSERT INTO res SELECT id / 10, COUNT(*), SUM(v), MAX(v) FROM latest GROUP BY id / 10;
