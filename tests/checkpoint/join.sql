CREATE TABLE events (
  id BIGINT, k STRING, v BIGINT, ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'input/events', 'format' = 'csv');

CREATE VIEW odd AS SELECT id, k, v FROM events WHERE MOD(id, 2) = 1;
CREATE VIEW even AS SELECT id, k, v FROM events WHERE MOD(id, 2) = 0;

CREATE TABLE pairs (a BIGINT, b BIGINT, k STRING)
WITH ('connector' = 'filesystem', 'path' = 'output/pairs', 'format' = 'csv');

INSERT INTO pairs
SELECT o.id, e.id, o.k FROM odd AS o JOIN even AS e ON o.id + 1 = e.id;
