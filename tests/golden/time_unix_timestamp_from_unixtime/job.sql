CREATE TABLE src (id INT, ts TIMESTAMP(3), d DATE, s STRING, n BIGINT) WITH ('connector' = 'filesystem', 'path' = 'input/times.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  unix_s BIGINT,
  unix_pat BIGINT,
  now_after_2023 BOOLEAN,
  from_unix STRING,
  from_unix_pat STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id,
  UNIX_TIMESTAMP(s),
  UNIX_TIMESTAMP(DATE_FORMAT(ts, 'dd.MM.yyyy HH:mm'), 'dd.MM.yyyy HH:mm'),
  UNIX_TIMESTAMP() > 1700000000,
  FROM_UNIXTIME(n),
  FROM_UNIXTIME(n, 'yyyyMMdd HH')
FROM src;
