CREATE TABLE events (
  id BIGINT, k STRING, v BIGINT, ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'input/events', 'format' = 'csv');

-- The right side updates (the newest even row of each of 2000 buckets replaces the one
-- before it), so stored rows come and go; odd rows lose and regain their partner, so the
-- left side's partner counts change.
CREATE VIEW odd AS SELECT id, v FROM events WHERE MOD(id, 2) = 1;
CREATE VIEW latest_even AS
SELECT id, v FROM (
  SELECT id, v, ROW_NUMBER() OVER (PARTITION BY MOD(id, 4000) ORDER BY ts DESC) AS rn
  FROM events WHERE MOD(id, 2) = 0
) WHERE rn = 1;

CREATE TABLE res (odd_id BIGINT, odd_v BIGINT, even_id BIGINT, even_v BIGINT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'debezium-json');

INSERT INTO res
SELECT o.id, o.v, e.id, e.v FROM odd AS o FULL OUTER JOIN latest_even AS e ON o.id + 1 = e.id;
