CREATE TABLE src (
  id INT, b BYTES, s STRING
) WITH ('connector' = 'filesystem', 'path' = 'input/bytes.json', 'format' = 'json');
CREATE TABLE as_csv (
  id INT,
  b BYTES,
  from_str BYTES
) WITH ('connector' = 'filesystem', 'path' = 'output/as_csv', 'format' = 'csv');
CREATE TABLE as_json (
  id INT,
  b BYTES,
  from_str BYTES
) WITH ('connector' = 'filesystem', 'path' = 'output/as_json', 'format' = 'json');

INSERT INTO as_csv SELECT id, b, CAST(s AS BYTES) FROM src;
INSERT INTO as_json SELECT id, b, CAST(s AS BYTES) FROM src;
