CREATE TABLE src (id INT, s STRING, t STRING) WITH ('connector' = 'filesystem', 'path' = 'input/strs.json', 'format' = 'json');
CREATE TABLE res (
  id INT,
  up STRING,
  low STRING,
  initcap_s STRING,
  trim_s STRING,
  ltrim_s STRING,
  rtrim_s STRING,
  trim_x STRING,
  ltrim_x STRING,
  rtrim_x STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');

INSERT INTO res
SELECT id, UPPER(s), LOWER(s), INITCAP(s), TRIM(s), LTRIM(s), RTRIM(s),
  TRIM(BOTH 'x' FROM s), TRIM(LEADING 'x' FROM s), TRIM(TRAILING 'x' FROM s)
FROM src;
