CREATE TABLE src (
  id INT, c CHAR(5), vc VARCHAR(10), s STRING
) WITH ('connector' = 'filesystem', 'path' = 'input/strs.json', 'format' = 'json');
CREATE TABLE as_csv (
  id INT,
  c CHAR(5),
  vc VARCHAR(10),
  s STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/as_csv', 'format' = 'csv');
CREATE TABLE as_json (
  id INT,
  c CHAR(5),
  vc VARCHAR(10),
  s STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/as_json', 'format' = 'json');

INSERT INTO as_csv SELECT * FROM src;
INSERT INTO as_json SELECT * FROM src;
