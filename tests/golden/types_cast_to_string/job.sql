CREATE TABLE src (
  id INT, b BOOLEAN, ti TINYINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, dc DECIMAL(10, 2), dt DATE, t TIME(0), ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'input/vals.json', 'format' = 'json');
CREATE TABLE res (
  id INT,
  b STRING,
  ti STRING,
  i STRING,
  bi STRING,
  f STRING,
  d STRING,
  dc STRING,
  dt STRING,
  t STRING,
  ts STRING,
  ltz STRING,
  arr STRING,
  m STRING,
  r STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id,
  CAST(b AS STRING), CAST(ti AS STRING), CAST(i AS STRING), CAST(bi AS STRING),
  CAST(f AS STRING), CAST(d AS STRING), CAST(dc AS STRING),
  CAST(dt AS STRING), CAST(t AS STRING), CAST(ts AS STRING),
  CAST(CAST(ts AS TIMESTAMP_LTZ(3)) AS STRING),
  CAST(ARRAY[i, 2] AS STRING),
  CAST(MAP['k', i] AS STRING),
  CAST(ROW(i, 'x') AS STRING)
FROM src;
