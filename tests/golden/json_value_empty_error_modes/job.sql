CREATE TABLE src (id INT, js STRING, s STRING, t STRING, i INT, ti TINYINT, bi BIGINT, f FLOAT, dc DECIMAL(10, 2), ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = 'input/docs.json', 'format' = 'json');
CREATE TABLE res (
  id INT, e1 STRING, e2 STRING, e3 STRING, e4 STRING, e5 STRING, e6 STRING, e7 INT, e8 DOUBLE, e9 STRING, e10 STRING, e11 STRING, e12 STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');
INSERT INTO res SELECT id,
  JSON_VALUE(js, '$.nul' DEFAULT 'd' ON ERROR),
  JSON_VALUE(js, 'lax $.nul' DEFAULT 'd' ON EMPTY),
  JSON_VALUE(js, 'lax $.obj' DEFAULT 'd' ON EMPTY),
  JSON_VALUE(js, 'lax $.obj' DEFAULT 'd' ON ERROR),
  JSON_VALUE(js, '$.a' ERROR ON EMPTY DEFAULT 'x' ON ERROR),
  JSON_VALUE(js, 'lax $.a' DEFAULT 'd' ON ERROR),
  JSON_VALUE(js, '$.n' RETURNING INT DEFAULT 1 ON EMPTY DEFAULT 2 ON ERROR),
  JSON_VALUE(js, 'lax $.zz' RETURNING DOUBLE),
  JSON_VALUE(js, 'lax $.nope' DEFAULT 'dd' ON EMPTY),
  JSON_VALUE(js, 'strict $.a' DEFAULT 'd' ON ERROR),
  JSON_VALUE(js, '$' DEFAULT 'd' ON ERROR),
  JSON_VALUE(js, '$.obj.k' DEFAULT 'd' ON ERROR)
FROM src;
