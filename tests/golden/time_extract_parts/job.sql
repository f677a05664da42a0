CREATE TABLE src (id INT, ts TIMESTAMP(3), d DATE, s STRING, n BIGINT) WITH ('connector' = 'filesystem', 'path' = 'input/times.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  ex_hour BIGINT,
  ex_dow BIGINT,
  ex_doy BIGINT,
  ex_quarter BIGINT,
  h BIGINT,
  mi BIGINT,
  sec BIGINT,
  y BIGINT,
  mo BIGINT,
  dom BIGINT,
  dow_n BIGINT,
  wk BIGINT
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id,
  EXTRACT(HOUR FROM ts), EXTRACT(DOW FROM ts), EXTRACT(DOY FROM ts), EXTRACT(QUARTER FROM d),
  HOUR(ts), MINUTE(ts), SECOND(ts),
  YEAR(d), MONTH(d), DAYOFMONTH(d), DAYOFWEEK(d), WEEK(d)
FROM src;
