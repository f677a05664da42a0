CREATE TABLE src (id INT, s STRING, t STRING) WITH ('connector' = 'filesystem', 'path' = 'input/strs.json', 'format' = 'json');
CREATE TABLE res (
  id INT,
  sub_2_3 STRING,
  sub_3 STRING,
  sub_0_2 STRING,
  sub_neg STRING,
  sub_long STRING,
  repl STRING,
  len INT,
  pos INT,
  pos_x INT
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');

INSERT INTO res
SELECT id,
  SUBSTRING(s FROM 2 FOR 3), SUBSTRING(s FROM 3), SUBSTRING(s, 0, 2), SUBSTRING(s, -3), SUBSTRING(s, 4, 100),
  REPLACE(s, t, '#'), CHAR_LENGTH(s), POSITION(t IN s), POSITION('x' IN s)
FROM src;
