CREATE TABLE events (
  id BIGINT, k STRING, v BIGINT, ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'input/events', 'format' = 'csv');

-- One small file: this source finishes long before `events`, and checkpoints go on without it.
CREATE TABLE dim (k STRING, label STRING)
WITH ('connector' = 'filesystem', 'path' = 'input/dim', 'format' = 'csv');

CREATE TABLE res (label STRING, n BIGINT, total BIGINT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'debezium-json');

INSERT INTO res
SELECT d.label, COUNT(*), SUM(e.v) FROM events AS e JOIN dim AS d ON e.k = d.k GROUP BY d.label;
