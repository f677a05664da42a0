CREATE TABLE src (id INT, s STRING, compact STRING, ds STRING, dcompact STRING) WITH ('connector' = 'filesystem', 'path' = 'input/strs.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  ts_default TIMESTAMP(3),
  ts_pattern TIMESTAMP(3),
  d_default DATE,
  d_pattern DATE
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id,
  TO_TIMESTAMP(s),
  TO_TIMESTAMP(compact, 'yyyyMMddHHmmss'),
  TO_DATE(ds),
  TO_DATE(dcompact, 'yyyyMMdd')
FROM src;
