CREATE TABLE src (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = 'input/first.csv', 'format' = 'csv');
CREATE TABLE IF NOT EXISTS src (id BIGINT, other STRING, extra INT) WITH ('connector' = 'filesystem', 'path' = 'input/second.csv', 'format' = 'csv');
CREATE TABLE IF NOT EXISTS res (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');
INSERT INTO res SELECT id, name FROM src;
