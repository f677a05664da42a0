CREATE TABLE src (
  id INT, n INT, s STRING, d DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'input/nulls.csv', 'format' = 'csv', 'csv.null-literal' = '\N');
CREATE TABLE res (
  id INT, n INT, s STRING, d DOUBLE, n_is_null BOOLEAN, s_is_null BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv', 'csv.null-literal' = 'NULL');
INSERT INTO res SELECT id, n, s, d, n IS NULL, s IS NULL FROM src;
