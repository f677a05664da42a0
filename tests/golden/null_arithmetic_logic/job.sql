CREATE TABLE src (
  id INT, a INT, b INT, x DOUBLE, s STRING
) WITH ('connector' = 'filesystem', 'path' = 'input/vals.json', 'format' = 'json');
CREATE TABLE res (
  id INT,
  a_plus_b INT,
  a_times_x DOUBLE,
  a_gt_b BOOLEAN,
  and_false BOOLEAN,
  or_true BOOLEAN,
  a_is_null BOOLEAN,
  distinct_ab BOOLEAN,
  concat_s STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id,
  a + b,
  a * x,
  a > b,
  (a > b) AND FALSE,
  (a > b) OR TRUE,
  a IS NULL,
  a IS DISTINCT FROM b,
  s || '!'
FROM src
WHERE NOT (b = 5) OR b IS NULL;
