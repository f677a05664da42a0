CREATE TABLE src (
  id INT,
  ai ARRAY<INT>,
  ast ARRAY<STRING>,
  m MAP<STRING, INT>,
  r ROW<a INT, b STRING>
) WITH ('connector' = 'filesystem', 'path' = 'input/coll.json', 'format' = 'json');
CREATE TABLE res (
  id INT,
  ai ARRAY<INT>,
  ast ARRAY<STRING>,
  r ROW<a INT, b STRING>
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res SELECT id, ai, ast, r FROM src;
