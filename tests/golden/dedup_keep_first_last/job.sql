-- Deduplication on event time: the first and the last page per user.
CREATE TABLE clicks (uid STRING, page STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH ('connector' = 'filesystem', 'path' = 'input/clicks.csv', 'format' = 'csv');
CREATE TABLE first_page (uid STRING, page STRING, ts TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/first_page', 'format' = 'debezium-json');
CREATE TABLE last_page (uid STRING, page STRING, ts TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/last_page', 'format' = 'debezium-json');
EXECUTE STATEMENT SET BEGIN
INSERT INTO first_page
SELECT uid, page, ts FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY ts ASC) AS rn FROM clicks
) WHERE rn = 1;
INSERT INTO last_page
SELECT uid, page, ts FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY ts DESC) AS rn FROM clicks
) WHERE rn = 1;
END;
