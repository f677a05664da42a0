CREATE TABLE clicks (
  ms BIGINT,
  uid STRING,
  ts AS TO_TIMESTAMP_LTZ(ms, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'filesystem', 'path' = 'input/clicks.csv', 'format' = 'csv');
CREATE TABLE as_csv (
  window_start TIMESTAMP_LTZ(3),
  window_end TIMESTAMP_LTZ(3),
  uid STRING,
  cnt BIGINT
) WITH ('connector' = 'filesystem', 'path' = 'output/as_csv', 'format' = 'csv');
CREATE TABLE as_json (
  window_start TIMESTAMP_LTZ(3),
  window_end TIMESTAMP_LTZ(3),
  uid STRING,
  cnt BIGINT
) WITH ('connector' = 'filesystem', 'path' = 'output/as_json', 'format' = 'json');

EXECUTE STATEMENT SET BEGIN
INSERT INTO as_csv
SELECT window_start, window_end, uid, COUNT(*)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, uid;
INSERT INTO as_json
SELECT window_start, window_end, uid, COUNT(*)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, uid;
END;
