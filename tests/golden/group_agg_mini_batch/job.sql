-- Mini-batch aggregation: with table.exec.mini-batch.* set, an updating GROUP BY buffers its
-- input and changes each key once per mini-batch. The buffer here (1 hour, 100000 rows) outlasts
-- the input, so every GROUP BY emits one +I per key, at the end of input, in both engines.
SET 'table.exec.mini-batch.enabled' = 'true';
SET 'table.exec.mini-batch.allow-latency' = '1 h';
SET 'table.exec.mini-batch.size' = '100000';

CREATE TABLE orders (
  id INT,
  customer STRING,
  category STRING,
  amount DECIMAL(10, 2),
  qty INT
) WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv', 'csv.null-literal' = '');

CREATE TABLE per_customer_out (
  customer STRING,
  orders BIGINT,
  total DECIMAL(38, 2),
  min_amount DECIMAL(10, 2),
  max_qty INT,
  categories BIGINT
) WITH ('connector' = 'filesystem', 'path' = 'output/per_customer', 'format' = 'debezium-json');

CREATE TABLE histogram (
  orders BIGINT,
  customers BIGINT,
  max_total DECIMAL(38, 2)
) WITH ('connector' = 'filesystem', 'path' = 'output/histogram', 'format' = 'debezium-json');

CREATE TABLE totals (
  customers BIGINT,
  amount DECIMAL(38, 2)
) WITH ('connector' = 'filesystem', 'path' = 'output/totals', 'format' = 'debezium-json');

CREATE VIEW per_customer AS
SELECT customer, COUNT(*) AS cnt, SUM(amount) AS total FROM orders GROUP BY customer;

EXECUTE STATEMENT SET BEGIN
INSERT INTO per_customer_out
SELECT customer, COUNT(*), SUM(amount), MIN(amount), MAX(qty), COUNT(DISTINCT category)
FROM orders
GROUP BY customer;
INSERT INTO histogram
SELECT cnt, COUNT(*), MAX(total) FROM per_customer GROUP BY cnt;
INSERT INTO totals
SELECT COUNT(DISTINCT customer), SUM(total) FROM per_customer;
END;
