-- The seed's live-streaming gift statistics, end to end: gift events from a file, the
-- platform dimension in PostgreSQL and the category dimension in MariaDB looked up
-- FOR SYSTEM_TIME AS OF PROCTIME(), per-room totals per 1-minute tumbling window and per
-- 5-minute window sliding every minute, upserted into PostgreSQL.
--
-- Run it (from the repository root; PostgreSQL and MariaDB as in DEVELOPERS' setup):
--   examples/live_gifts/run.sh
SET 'parallelism.default' = '2';

CREATE TABLE gift_v1 (
  room_id     BIGINT,
  room_nick   STRING,
  cate_id     INT,
  `user_id`   BIGINT,
  user_nick   STRING,
  plat        STRING,
  price       DOUBLE,
  gift_count  INT,
  `datetime`  TIMESTAMP(3),
  WATERMARK FOR `datetime` AS `datetime` - INTERVAL '5' SECOND
) WITH (
  'connector' = 'filesystem',
  'path' = 'examples/live_gifts/gifts.csv',
  'format' = 'csv'
);

CREATE TABLE ods_wb_platform_i_tbl (
  alias STRING,
  platform STRING,
  PRIMARY KEY (alias) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:postgresql://127.0.0.1:5432/test',
  'table-name' = 'ods_wb_platform_i_tbl',
  'username' = 'postgres',
  'lookup.cache' = 'PARTIAL',
  'lookup.partial-cache.max-rows' = '1000',
  'lookup.partial-cache.expire-after-write' = '10 min'
);

CREATE TABLE ods_wb_categories_i_tbl (
  cateId INT,
  platform STRING,
  typeId STRING,
  PRIMARY KEY (cateId, platform) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:mysql://127.0.0.1:3306/test',
  'table-name' = 'ods_wb_categories_i_tbl',
  'username' = 'root',
  'lookup.cache' = 'PARTIAL',
  'lookup.partial-cache.max-rows' = '1000',
  'lookup.partial-cache.expire-after-write' = '10 min',
  'lookup.partial-cache.cache-missing-key' = 'true'
);

CREATE VIEW tmp_gift_info_view_m1 AS
SELECT a.pf, (CASE WHEN c.typeId IS NULL THEN '16' WHEN c.typeId = '' THEN '16' ELSE c.typeId END) AS typeId,
       a.room_id, a.room_nick, a.`user_id`, a.user_nick, a.gift_cost, a.gift_count, a.dateline,
       DATE_FORMAT(a.dayid, 'yyyyMMdd') AS dayid
FROM (
  SELECT COALESCE(d.platform, '0') AS pf, g.cate_id, g.room_id, g.room_nick, g.`user_id`, g.user_nick,
         g.price * g.gift_count AS gift_cost, g.gift_count, g.`datetime` AS dateline, g.`datetime` AS dayid
  FROM gift_v1 g
  LEFT JOIN ods_wb_platform_i_tbl FOR SYSTEM_TIME AS OF PROCTIME() AS d ON g.plat = d.alias
) AS a
LEFT JOIN ods_wb_categories_i_tbl FOR SYSTEM_TIME AS OF PROCTIME() AS c
  ON a.cate_id = c.cateId AND a.pf = c.platform;

CREATE VIEW tmp_gift_info_view_m2 AS
SELECT CAST(pf AS INT) AS pf, CAST(typeId AS INT) AS typeId, room_id, room_nick,
       SUM(gift_cost) AS gift_cost, SUM(gift_count) AS gift_count,
       CAST(TUMBLE_START(dateline, INTERVAL '1' MINUTE) AS TIMESTAMP) AS start_time,
       CAST(TUMBLE_END(dateline, INTERVAL '1' MINUTE) AS TIMESTAMP) AS end_time, dayid
FROM tmp_gift_info_view_m1 AS b
GROUP BY TUMBLE(dateline, INTERVAL '1' MINUTE), pf, typeId, room_id, room_nick, dayid;

CREATE VIEW tmp_gift_info_view_5m AS
SELECT CAST(pf AS INT) AS pf, CAST(typeId AS INT) AS typeId, room_id,
       SUM(gift_cost) AS gift_cost, SUM(gift_count) AS gift_count,
       CAST(HOP_START(dateline, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) AS TIMESTAMP) AS start_time,
       CAST(HOP_END(dateline, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) AS TIMESTAMP) AS end_time
FROM tmp_gift_info_view_m1 AS b
GROUP BY HOP(dateline, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE), pf, typeId, room_id;

CREATE TABLE gift_stats_1m (
  pf INT, type_id INT, room_id BIGINT, room_nick STRING, gift_cost DOUBLE, gift_count BIGINT,
  start_time TIMESTAMP(3), end_time TIMESTAMP(3), dayid STRING,
  PRIMARY KEY (room_id, pf, type_id, start_time) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:postgresql://127.0.0.1:5432/test',
  'table-name' = 'gift_stats_1m',
  'username' = 'postgres'
);

CREATE TABLE gift_stats_5m (
  pf INT, type_id INT, room_id BIGINT, gift_cost DOUBLE, gift_count BIGINT,
  start_time TIMESTAMP(3), end_time TIMESTAMP(3),
  PRIMARY KEY (room_id, pf, type_id, start_time) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:postgresql://127.0.0.1:5432/test',
  'table-name' = 'gift_stats_5m',
  'username' = 'postgres'
);

EXECUTE STATEMENT SET BEGIN
INSERT INTO gift_stats_1m SELECT * FROM tmp_gift_info_view_m2;
INSERT INTO gift_stats_5m SELECT * FROM tmp_gift_info_view_5m;
END;
