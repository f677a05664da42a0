-- Event-time temporal joins (FOR SYSTEM_TIME AS OF o.order_time) against versioned tables:
-- a debezium-json changelog with a primary key and a watermark (updates, a delete, a version
-- that starts after every order) and an append-only csv table with a primary key (each row is
-- the key's new version). INNER drops orders without a valid version, LEFT pads them.
-- The versioned tables' files are in rowtime order and their watermarks lag by a second, so
-- every version of a time has arrived before an order of that time is joined (in Flink, whose
-- watermarks are periodic, too).
CREATE TABLE orders (
  order_id INT,
  order_time TIMESTAMP(3),
  currency STRING,
  amount INT,
  WATERMARK FOR order_time AS order_time - INTERVAL '1' MINUTE
) WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv');

CREATE TABLE rates (
  currency STRING,
  rate DECIMAL(10, 2),
  update_time TIMESTAMP(3),
  WATERMARK FOR update_time AS update_time - INTERVAL '1' SECOND,
  PRIMARY KEY (currency) NOT ENFORCED
) WITH ('connector' = 'filesystem', 'path' = 'input/rates.json', 'format' = 'debezium-json');

CREATE TABLE fees (
  currency STRING,
  fee DOUBLE,
  valid_from TIMESTAMP(3),
  WATERMARK FOR valid_from AS valid_from - INTERVAL '1' SECOND,
  PRIMARY KEY (currency) NOT ENFORCED
) WITH ('connector' = 'filesystem', 'path' = 'input/fees.csv', 'format' = 'csv');

CREATE TABLE converted (order_id INT, currency STRING, amount INT, rate DECIMAL(10, 2), rate_time TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/converted', 'format' = 'csv');
CREATE TABLE all_orders (order_id INT, rate DECIMAL(10, 2))
  WITH ('connector' = 'filesystem', 'path' = 'output/all_orders', 'format' = 'csv');
CREATE TABLE cheap (order_id INT, rate DECIMAL(10, 2))
  WITH ('connector' = 'filesystem', 'path' = 'output/cheap', 'format' = 'csv');
CREATE TABLE with_fee (order_id INT, fee DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = 'output/with_fee', 'format' = 'csv');

EXECUTE STATEMENT SET BEGIN
INSERT INTO converted
SELECT o.order_id, o.currency, o.amount, r.rate, r.update_time
FROM orders AS o JOIN rates FOR SYSTEM_TIME AS OF o.order_time AS r ON o.currency = r.currency;
INSERT INTO all_orders
SELECT o.order_id, r.rate
FROM orders AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.order_time AS r ON o.currency = r.currency;
INSERT INTO cheap
SELECT o.order_id, r.rate
FROM orders AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.order_time AS r
  ON o.currency = r.currency AND r.rate < 1.12;
INSERT INTO with_fee
SELECT o.order_id, f.fee
FROM orders AS o JOIN fees FOR SYSTEM_TIME AS OF o.order_time AS f ON o.currency = f.currency;
END;
