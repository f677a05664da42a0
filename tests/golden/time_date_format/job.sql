CREATE TABLE src (id INT, ts TIMESTAMP(3), d DATE, s STRING, n BIGINT) WITH ('connector' = 'filesystem', 'path' = 'input/times.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  ymd STRING,
  full_ts STRING,
  hms_ms STRING,
  slashes STRING,
  from_str STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id,
  DATE_FORMAT(ts, 'yyyyMMdd'),
  DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss'),
  DATE_FORMAT(ts, 'HH:mm:ss.SSS'),
  DATE_FORMAT(ts, 'yyyy/MM/dd'),
  DATE_FORMAT(s, 'yyyyMMddHHmmss')
FROM src;
