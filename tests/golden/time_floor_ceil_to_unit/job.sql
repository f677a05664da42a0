CREATE TABLE src (id INT, ts TIMESTAMP(3), d DATE, s STRING, n BIGINT) WITH ('connector' = 'filesystem', 'path' = 'input/times.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  floor_hour TIMESTAMP(3),
  floor_day TIMESTAMP(3),
  floor_month TIMESTAMP(3),
  ceil_minute TIMESTAMP(3),
  ceil_hour TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id, FLOOR(ts TO HOUR), FLOOR(ts TO DAY), FLOOR(ts TO MONTH), CEIL(ts TO MINUTE), CEIL(ts TO HOUR)
FROM src;
