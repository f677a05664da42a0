CREATE TABLE events (
  id BIGINT, k STRING, v BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'filesystem', 'path' = 'input/events', 'format' = 'csv');

CREATE VIEW odd AS SELECT id, k, ts FROM events WHERE MOD(id, 2) = 1;
CREATE VIEW even AS SELECT id, k, ts FROM events WHERE MOD(id, 2) = 0;

CREATE TABLE pairs (a BIGINT, b BIGINT, k STRING)
WITH ('connector' = 'filesystem', 'path' = 'output/pairs', 'format' = 'csv');

-- Rows leave the join's state as the watermark passes their time bound (10 minutes of event
-- time: the state holds thousands of rows, more than arrive between two checkpoints).
INSERT INTO pairs
SELECT o.id, e.id, o.k FROM odd AS o JOIN even AS e
ON o.id + 1 = e.id AND e.ts BETWEEN o.ts - INTERVAL '10' MINUTE AND o.ts + INTERVAL '1' SECOND;
