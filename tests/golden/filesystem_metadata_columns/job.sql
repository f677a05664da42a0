CREATE TABLE src (
  id INT,
  name STRING,
  fname STRING NOT NULL METADATA FROM 'file.name' VIRTUAL,
  fsize BIGINT NOT NULL METADATA FROM 'file.size' VIRTUAL
) WITH ('connector' = 'filesystem', 'path' = 'input/dir', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  name STRING,
  fname STRING,
  fsize BIGINT
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res SELECT id, name, fname, fsize FROM src;
