CREATE TABLE src (
  id INT, b BOOLEAN, ti TINYINT, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, dc DECIMAL(10, 2)
) WITH ('connector' = 'filesystem', 'path' = 'input/nums.json', 'format' = 'json');
CREATE TABLE as_csv (
  id INT,
  b BOOLEAN,
  ti TINYINT,
  si SMALLINT,
  i INT,
  bi BIGINT,
  f FLOAT,
  d DOUBLE,
  dc DECIMAL(10, 2)
) WITH ('connector' = 'filesystem', 'path' = 'output/as_csv', 'format' = 'csv');
CREATE TABLE as_json (
  id INT,
  b BOOLEAN,
  ti TINYINT,
  si SMALLINT,
  i INT,
  bi BIGINT,
  f FLOAT,
  d DOUBLE,
  dc DECIMAL(10, 2)
) WITH ('connector' = 'filesystem', 'path' = 'output/as_json', 'format' = 'json');

INSERT INTO as_csv SELECT * FROM src;
INSERT INTO as_json SELECT * FROM src;
