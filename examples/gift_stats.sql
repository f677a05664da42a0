-- Live-streaming gift statistics (the seed's example job, without the dimension-table
-- lookups that come with joins): gift events from a CSV file, per-room totals per
-- 1-minute tumbling window and per 5-minute window sliding every minute.
-- Run it:  stc run examples/gift_stats.sql
SET 'parallelism.default' = '2';

CREATE TABLE gift_v1 (
  room_id     BIGINT,
  room_nick   STRING,
  `user_id`   BIGINT,
  user_nick   STRING,
  plat        STRING,
  price       DOUBLE,
  gift_count  INT,
  `datetime`  TIMESTAMP(3),
  WATERMARK FOR `datetime` AS `datetime` - INTERVAL '5' SECOND
) WITH (
  'connector' = 'filesystem',
  'path' = 'examples/data/gifts.csv',
  'format' = 'csv'
);

CREATE VIEW gift_info AS
SELECT CASE plat WHEN 'ios' THEN 1 WHEN 'android' THEN 2 ELSE 16 END AS pf,
       room_id, room_nick, `user_id`, price * gift_count AS gift_cost, gift_count,
       `datetime` AS dateline, DATE_FORMAT(`datetime`, 'yyyyMMdd') AS dayid
FROM gift_v1;

CREATE TABLE room_minute (
  pf INT, room_id BIGINT, room_nick STRING, gift_cost DOUBLE, gift_count BIGINT,
  start_time TIMESTAMP(3), end_time TIMESTAMP(3), dayid STRING
) WITH ('connector' = 'print', 'print-identifier' = '1m');

CREATE TABLE room_5m (
  pf INT, room_id BIGINT, gift_cost DOUBLE, start_time TIMESTAMP(3), end_time TIMESTAMP(3)
) WITH ('connector' = 'print', 'print-identifier' = '5m');

EXECUTE STATEMENT SET BEGIN
INSERT INTO room_minute
SELECT pf, room_id, room_nick, SUM(gift_cost), SUM(gift_count),
       TUMBLE_START(dateline, INTERVAL '1' MINUTE), TUMBLE_END(dateline, INTERVAL '1' MINUTE), dayid
FROM gift_info
GROUP BY TUMBLE(dateline, INTERVAL '1' MINUTE), pf, room_id, room_nick, dayid;

INSERT INTO room_5m
SELECT pf, room_id, SUM(gift_cost),
       HOP_START(dateline, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE),
       HOP_END(dateline, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)
FROM gift_info
GROUP BY HOP(dateline, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE), pf, room_id;
END;
