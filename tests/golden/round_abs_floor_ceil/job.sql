CREATE TABLE src (id INT, x DOUBLE, dc DECIMAL(10, 3), n INT) WITH ('connector' = 'filesystem', 'path' = 'input/nums.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  round_x DOUBLE,
  round_x1 DOUBLE,
  round_dec DECIMAL(10, 3),
  round_neg INT,
  abs_x DOUBLE,
  abs_n INT,
  floor_x DOUBLE,
  ceil_x DOUBLE,
  floor_dec DECIMAL(10, 0),
  ceil_dec DECIMAL(10, 0),
  sign_x DOUBLE,
  sqrt_abs DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id,
  ROUND(x, 0), ROUND(x, 1), ROUND(dc, 1), ROUND(n, -1),
  ABS(x), ABS(n),
  FLOOR(x), CEIL(x), FLOOR(dc), CEIL(dc),
  SIGN(x), SQRT(ABS(x))
FROM src;
