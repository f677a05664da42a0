CREATE TABLE src (id INT, s STRING) WITH ('connector' = 'filesystem', 'path' = 'input/strs.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  starts_ab BOOLEAN,
  has_b BOOLEAN,
  three_chars BOOLEAN,
  not_like BOOLEAN,
  upper_ab BOOLEAN,
  pct BOOLEAN,
  underscore BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id,
  s LIKE 'ab%',
  s LIKE '%b%',
  s LIKE '___',
  s NOT LIKE 'ab%',
  s LIKE 'AB%',
  s LIKE '%!%%' ESCAPE '!',
  s LIKE 'a!_%' ESCAPE '!'
FROM src;
