-- Event-time temporal joins against versioned *views*: an append-only log of rates,
-- deduplicated to the latest row per currency by its rowtime (ROW_NUMBER() ... ORDER BY rowtime
-- DESC, rownum = 1). Flink derives the view's primary key (the PARTITION BY columns) and its
-- rowtime, and each log row is the currency's version from its time on. The log is in rowtime
-- order and its watermark lags by a second, so every version of a time has arrived before an
-- order of that time is joined.
CREATE TABLE orders (
  order_id INT,
  order_time TIMESTAMP(3),
  currency STRING,
  amount INT,
  WATERMARK FOR order_time AS order_time - INTERVAL '1' MINUTE
) WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv');

CREATE TABLE rates_log (
  currency STRING,
  rate DECIMAL(10, 2),
  update_time TIMESTAMP(3),
  WATERMARK FOR update_time AS update_time - INTERVAL '1' SECOND
) WITH ('connector' = 'filesystem', 'path' = 'input/rates_log.csv', 'format' = 'csv');

CREATE VIEW rates AS
SELECT currency, rate, update_time
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY currency ORDER BY update_time DESC) AS rownum
  FROM rates_log)
WHERE rownum = 1;

CREATE TABLE converted (order_id INT, currency STRING, amount INT, rate DECIMAL(10, 2), rate_time TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/converted', 'format' = 'csv');
CREATE TABLE all_orders (order_id INT, rate DECIMAL(10, 2))
  WITH ('connector' = 'filesystem', 'path' = 'output/all_orders', 'format' = 'csv');

EXECUTE STATEMENT SET BEGIN
INSERT INTO converted
SELECT o.order_id, o.currency, o.amount, r.rate, r.update_time
FROM orders AS o JOIN rates FOR SYSTEM_TIME AS OF o.order_time AS r ON o.currency = r.currency;
INSERT INTO all_orders
SELECT o.order_id, r.rate
FROM orders AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.order_time AS r ON r.currency = o.currency;
END;
