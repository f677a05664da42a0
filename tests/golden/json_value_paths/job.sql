CREATE TABLE src (id INT, js STRING) WITH ('connector' = 'filesystem', 'path' = 'input/docs.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  name STRING,
  city STRING,
  first_tag STRING,
  n_int INT,
  n_str STRING,
  x_dbl DOUBLE,
  ok BOOLEAN,
  missing STRING,
  with_default STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');

INSERT INTO res
SELECT id,
  JSON_VALUE(js, '$.name'),
  JSON_VALUE(js, '$.addr.city'),
  JSON_VALUE(js, '$.tags[0]'),
  JSON_VALUE(js, '$.n' RETURNING INT),
  JSON_VALUE(js, '$.n'),
  JSON_VALUE(js, '$.x' RETURNING DOUBLE),
  JSON_VALUE(js, '$.ok' RETURNING BOOLEAN),
  JSON_VALUE(js, '$.nope'),
  JSON_VALUE(js, '$.nope' DEFAULT 'dflt' ON EMPTY)
FROM src;
