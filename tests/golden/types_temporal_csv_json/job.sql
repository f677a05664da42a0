CREATE TABLE src (
  id INT, d DATE, t TIME(0), ts TIMESTAMP(3), ts0 TIMESTAMP(0), ltz TIMESTAMP_LTZ(3)
) WITH ('connector' = 'filesystem', 'path' = 'input/temps.json', 'format' = 'json');
CREATE TABLE as_csv (
  id INT,
  d DATE,
  t TIME(0),
  ts TIMESTAMP(3),
  ts0 TIMESTAMP(0),
  ltz TIMESTAMP_LTZ(3)
) WITH ('connector' = 'filesystem', 'path' = 'output/as_csv', 'format' = 'csv');
CREATE TABLE as_json (
  id INT,
  d DATE,
  t TIME(0),
  ts TIMESTAMP(3),
  ts0 TIMESTAMP(0),
  ltz TIMESTAMP_LTZ(3)
) WITH ('connector' = 'filesystem', 'path' = 'output/as_json', 'format' = 'json');

INSERT INTO as_csv SELECT * FROM src;
INSERT INTO as_json SELECT * FROM src;
