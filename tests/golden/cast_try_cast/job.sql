CREATE TABLE src (id INT, s STRING, x DOUBLE, flag BOOLEAN) WITH ('connector' = 'filesystem', 'path' = 'input/vals.json', 'format' = 'json');
CREATE TABLE res (
  id INT,
  s_int INT,
  s_dbl DOUBLE,
  s_dec DECIMAL(10, 2),
  s_bool BOOLEAN,
  s_date DATE,
  s_ts TIMESTAMP(3),
  x_int INT,
  x_dec DECIMAL(10, 1),
  x_bigint BIGINT,
  flag_int INT,
  lit_int INT,
  lit_dec DECIMAL(10, 2)
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id,
  TRY_CAST(s AS INT),
  TRY_CAST(s AS DOUBLE),
  TRY_CAST(s AS DECIMAL(10, 2)),
  TRY_CAST(s AS BOOLEAN),
  TRY_CAST(s AS DATE),
  TRY_CAST(s AS TIMESTAMP(3)),
  CAST(x AS INT),
  CAST(x AS DECIMAL(10, 1)),
  CAST(x AS BIGINT),
  CAST(flag AS INT),
  CAST('123' AS INT),
  CAST(id AS DECIMAL(10, 2))
FROM src;
