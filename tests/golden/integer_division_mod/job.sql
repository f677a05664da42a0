CREATE TABLE src (
  id INT, a INT, b INT, x DOUBLE, s STRING
) WITH ('connector' = 'filesystem', 'path' = 'input/vals.json', 'format' = 'json');
CREATE TABLE res (
  id INT,
  div_ab INT,
  mod_ab INT,
  pct_ab INT,
  div_double DOUBLE,
  div_lit DOUBLE,
  dec_div DECIMAL(20, 6)
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id, a / b, MOD(a, b), a % b, a / CAST(b AS DOUBLE), a / 2.0E0, CAST(a AS DECIMAL(10, 2)) / 3
FROM src;
