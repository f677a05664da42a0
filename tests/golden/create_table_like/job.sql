CREATE TABLE base_src (
  id INT,
  name STRING
) WITH ('connector' = 'filesystem', 'path' = 'input/base.csv', 'format' = 'csv');
CREATE TABLE other_src (
  name_len AS CHAR_LENGTH(name)
) WITH ('path' = 'input/other.csv') LIKE base_src;
CREATE TABLE out_csv (
  id INT,
  name STRING,
  name_len INT
) WITH ('connector' = 'filesystem', 'path' = 'output/out_csv', 'format' = 'csv');
CREATE TABLE out_json WITH ('path' = 'output/out_json', 'format' = 'json') LIKE out_csv;
INSERT INTO out_csv SELECT id, name, CHAR_LENGTH(name) FROM base_src;
INSERT INTO out_json SELECT id, name, name_len FROM other_src;
