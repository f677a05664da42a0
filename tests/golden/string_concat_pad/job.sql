CREATE TABLE src (id INT, s STRING, t STRING) WITH ('connector' = 'filesystem', 'path' = 'input/strs.json', 'format' = 'json');
CREATE TABLE res (
  id INT,
  concat_s STRING,
  concat_ws_s STRING,
  concat_ws_null_sep STRING,
  lpad_8 STRING,
  rpad_8 STRING,
  lpad_3 STRING,
  rpad_ab STRING,
  rep STRING,
  rev STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');

INSERT INTO res
SELECT id,
  CONCAT(s, '|', t),
  CONCAT_WS('~', s, t, CAST(NULL AS STRING), 'end'),
  CONCAT_WS(CAST(NULL AS STRING), s, t),
  LPAD(s, 8, '*'), RPAD(s, 8, '*'), LPAD(s, 3, '*'), RPAD(t, 5, 'ab'),
  REPEAT(t, 3), REVERSE(s)
FROM src;
