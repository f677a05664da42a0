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
  m MAP<STRING, INT>,
  r ROW<a INT, b STRING>,
  first_i INT,
  n INT,
  mk INT,
  rb STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'json');

INSERT INTO res
SELECT id, ai, ast, m, r, ai[1], CARDINALITY(ast), m['k1'], r.b FROM src;
