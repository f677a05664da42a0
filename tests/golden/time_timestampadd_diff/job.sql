CREATE TABLE src (id INT, ts TIMESTAMP(3), d DATE, s STRING, n BIGINT) WITH ('connector' = 'filesystem', 'path' = 'input/times.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  plus5min TIMESTAMP(3),
  minus_hour TIMESTAMP(3),
  plus_month TIMESTAMP(3),
  plus_day TIMESTAMP(3),
  diff_s INT,
  diff_min INT,
  diff_day INT,
  plus_interval TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id,
  TIMESTAMPADD(MINUTE, 5, ts),
  TIMESTAMPADD(HOUR, -1, ts),
  TIMESTAMPADD(MONTH, 1, ts),
  TIMESTAMPADD(DAY, 1, ts),
  TIMESTAMPDIFF(SECOND, ts, TIMESTAMP '2024-01-01 00:00:00'),
  TIMESTAMPDIFF(MINUTE, TIMESTAMP '2024-01-01 00:00:00', ts),
  TIMESTAMPDIFF(DAY, TIMESTAMP '2024-01-01 00:00:00', ts),
  ts + INTERVAL '1' SECOND - INTERVAL '2' MINUTE
FROM src;
