CREATE TABLE src (id INT, ms BIGINT) WITH ('connector' = 'filesystem', 'path' = 'input/ms.csv', 'format' = 'csv');
CREATE TABLE as_csv (
  id INT,
  ltz_ms TIMESTAMP_LTZ(3),
  ltz_s TIMESTAMP_LTZ(3),
  as_ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'output/as_csv', 'format' = 'csv');
CREATE TABLE as_json (
  id INT,
  ltz_ms TIMESTAMP_LTZ(3),
  ltz_s TIMESTAMP_LTZ(3),
  as_ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'output/as_json', 'format' = 'json');

INSERT INTO as_csv SELECT id, TO_TIMESTAMP_LTZ(ms, 3), TO_TIMESTAMP_LTZ(ms / 1000, 0), CAST(TO_TIMESTAMP_LTZ(ms, 3) AS TIMESTAMP(3)) FROM src;
INSERT INTO as_json SELECT id, TO_TIMESTAMP_LTZ(ms, 3), TO_TIMESTAMP_LTZ(ms / 1000, 0), CAST(TO_TIMESTAMP_LTZ(ms, 3) AS TIMESTAMP(3)) FROM src;
