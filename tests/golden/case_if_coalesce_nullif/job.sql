CREATE TABLE src (
  id INT, a INT, b INT, x DOUBLE, s STRING
) WITH ('connector' = 'filesystem', 'path' = 'input/vals.json', 'format' = 'json');
CREATE TABLE res (
  id INT,
  sign_word STRING,
  simple_case STRING,
  no_else STRING,
  if_pos STRING,
  coal INT,
  nullif_a INT
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id,
  CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' WHEN a = 0 THEN 'zero' ELSE 'null' END,
  CASE b WHEN 2 THEN 'two' WHEN 3 THEN 'three' ELSE 'other' END,
  CASE WHEN x > 1 THEN 'big' END,
  IF(a > 0, 'yes', 'no'),
  COALESCE(a, b, -1),
  NULLIF(a, 7)
FROM src;
