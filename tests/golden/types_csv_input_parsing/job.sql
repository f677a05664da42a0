CREATE TABLE src (
  id INT, b BOOLEAN, ti TINYINT, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, dc DECIMAL(10, 2),
  s STRING, dt DATE, t TIME(0), ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'input/all.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  b BOOLEAN,
  ti TINYINT,
  si SMALLINT,
  i INT,
  bi BIGINT,
  f FLOAT,
  d DOUBLE,
  dc DECIMAL(10, 2),
  s STRING,
  dt DATE,
  t TIME(0),
  ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');

INSERT INTO res SELECT * FROM src;
