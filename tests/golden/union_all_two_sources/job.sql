CREATE TABLE a (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = 'input/a.csv', 'format' = 'csv');
CREATE TABLE b (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = 'input/b.csv', 'format' = 'csv');
CREATE TABLE res (
  src STRING,
  id INT,
  name STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT 'a', id, name FROM a
UNION ALL
SELECT 'b', id, name FROM b WHERE id > 1
UNION ALL
SELECT 'a', id, name FROM a WHERE id = 2;
