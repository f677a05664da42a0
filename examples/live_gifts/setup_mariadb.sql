-- Category dimension of the live-gifts example, in MariaDB.
-- mariadb -h 127.0.0.1 -u root test < examples/live_gifts/setup_mariadb.sql
DROP TABLE IF EXISTS ods_wb_categories_i_tbl;
CREATE TABLE ods_wb_categories_i_tbl (
  cateId INT NOT NULL, platform VARCHAR(8) NOT NULL, typeId VARCHAR(8),
  PRIMARY KEY (cateId, platform)
);
INSERT INTO ods_wb_categories_i_tbl VALUES
  (11, '1', '101'), (11, '2', '102'), (11, '3', '103'),
  (12, '1', '201'), (12, '2', ''),
  (13, '3', '301');
