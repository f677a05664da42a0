CREATE TABLE src (id INT, s STRING) WITH ('connector' = 'filesystem', 'path' = 'input/strs.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  ex_num STRING,
  ex_key STRING,
  ex_val STRING,
  repl_digits STRING,
  swap STRING,
  is_match BOOLEAN,
  split0 STRING,
  split2 STRING,
  split9 STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');

INSERT INTO res
SELECT id,
  REGEXP_EXTRACT(s, '[0-9]+'),
  REGEXP_EXTRACT(s, '([a-z]+)=([0-9]+)', 1),
  REGEXP_EXTRACT(s, '([a-z]+)=([0-9]+)', 2),
  REGEXP_REPLACE(s, '[0-9]', '#'),
  REGEXP_REPLACE(s, '([a-z]+)=([0-9]+)', '$2:$1'),
  REGEXP(s, '[0-9]+'),
  SPLIT_INDEX(s, ',', 0),
  SPLIT_INDEX(s, ',', 2),
  SPLIT_INDEX(s, ',', 9)
FROM src;
