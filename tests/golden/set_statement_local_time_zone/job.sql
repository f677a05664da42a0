CREATE TABLE src (id INT, ms BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = 'input/src.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  ltz TIMESTAMP_LTZ(3),
  ltz_str STRING,
  ltz_as_ts TIMESTAMP(3),
  from_unix STRING,
  ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

SET 'table.local-time-zone' = 'Asia/Kolkata';
INSERT INTO res
SELECT id,
       TO_TIMESTAMP_LTZ(ms, 3),
       CAST(TO_TIMESTAMP_LTZ(ms, 3) AS STRING),
       CAST(TO_TIMESTAMP_LTZ(ms, 3) AS TIMESTAMP(3)),
       FROM_UNIXTIME(ms / 1000),
       ts
FROM src;
