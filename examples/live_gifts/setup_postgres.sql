-- Dimension table and result tables of the live-gifts example, in PostgreSQL.
-- psql -h 127.0.0.1 -U postgres -d test -f examples/live_gifts/setup_postgres.sql
DROP TABLE IF EXISTS ods_wb_platform_i_tbl;
CREATE TABLE ods_wb_platform_i_tbl (alias VARCHAR(32) PRIMARY KEY, platform VARCHAR(8) NOT NULL);
INSERT INTO ods_wb_platform_i_tbl VALUES ('ios', '1'), ('android', '2'), ('web', '3');

DROP TABLE IF EXISTS gift_stats_1m;
CREATE TABLE gift_stats_1m (
  pf INT, type_id INT, room_id BIGINT, room_nick VARCHAR(64), gift_cost DOUBLE PRECISION,
  gift_count BIGINT, start_time TIMESTAMP, end_time TIMESTAMP, dayid VARCHAR(8),
  PRIMARY KEY (room_id, pf, type_id, start_time)
);
DROP TABLE IF EXISTS gift_stats_5m;
CREATE TABLE gift_stats_5m (
  pf INT, type_id INT, room_id BIGINT, gift_cost DOUBLE PRECISION, gift_count BIGINT,
  start_time TIMESTAMP, end_time TIMESTAMP,
  PRIMARY KEY (room_id, pf, type_id, start_time)
);
