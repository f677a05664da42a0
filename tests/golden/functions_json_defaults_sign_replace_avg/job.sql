CREATE TABLE src (id INT, js STRING, s STRING, t STRING, i INT, ti TINYINT, bi BIGINT, f FLOAT, dc DECIMAL(10, 2), ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem', 'path' = 'input/docs.json', 'format' = 'json');
CREATE TABLE res (
  id INT, e1 STRING, e2 INT, e3 STRING, e4 STRING, e5 STRING, e6 STRING, e7 STRING, e8 STRING, e9 STRING, e10 STRING, e11 STRING, e12 INT,
  r1 STRING, r2 STRING, sg1 INT, sg2 DECIMAL(10, 2), sg3 STRING, sg4 STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');
CREATE TABLE agg (ti_avg STRING, bi_avg STRING, f_avg STRING, dc_avg STRING, i_avg STRING, la STRING, la2 STRING) WITH ('connector' = 'filesystem', 'path' = 'output/agg', 'format' = 'json');
EXECUTE STATEMENT SET BEGIN
INSERT INTO res SELECT id,
  JSON_VALUE(js, '$.nope' DEFAULT 'dflt' ON EMPTY),
  JSON_VALUE(js, '$.nope' RETURNING INT DEFAULT 5 ON EMPTY),
  JSON_VALUE(js, 'strict $.nope' DEFAULT 'd' ON ERROR),
  JSON_VALUE(js, '$.nope' NULL ON EMPTY DEFAULT 'e' ON ERROR),
  JSON_VALUE(js, '$.a' DEFAULT 'd' ON ERROR),
  JSON_VALUE(js, '$.nul' DEFAULT 'd' ON EMPTY),
  JSON_VALUE(js, '$.obj' DEFAULT 'd' ON EMPTY),
  JSON_VALUE(js, '$.obj' DEFAULT 'd' ON ERROR),
  JSON_VALUE(js, 'lax $.nope' DEFAULT 'dflt' ON EMPTY),
  JSON_VALUE(js, 'strict $.nope' DEFAULT 'd1' ON EMPTY DEFAULT 'd2' ON ERROR),
  JSON_VALUE(js, '$.a' DEFAULT 'd1' ON EMPTY DEFAULT 'd2' ON ERROR),
  JSON_VALUE(js, '$.n' RETURNING INT DEFAULT 9 ON ERROR),
  REPLACE(s, t, '#'), REPLACE(s, '', '#'),
  SIGN(i), SIGN(dc), CAST(SIGN(f) AS STRING), CAST(SIGN(bi) AS STRING)
FROM src;
INSERT INTO agg SELECT CAST(AVG(ti) AS STRING), CAST(AVG(bi) AS STRING), CAST(AVG(f) AS STRING), CAST(AVG(dc) AS STRING), CAST(AVG(i) AS STRING), LISTAGG(s), LISTAGG(t, '|') FROM src GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE);
END;
