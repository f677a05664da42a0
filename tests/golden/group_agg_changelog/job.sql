-- Non-windowed GROUP BY: an updating aggregation. Each input row changes its group's
-- result once (+I for a new group, -U/+U for a changed one), as Flink without mini-batch.
CREATE TABLE orders (
  id INT,
  customer STRING,
  category STRING,
  amount DECIMAL(10, 2),
  qty INT
) WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv', 'csv.null-literal' = '');

CREATE TABLE per_customer (
  customer STRING,
  orders BIGINT,
  total DECIMAL(38, 2),
  min_amount DECIMAL(10, 2),
  max_qty INT,
  qty_sum INT,
  categories BIGINT
) WITH ('connector' = 'filesystem', 'path' = 'output/per_customer', 'format' = 'debezium-json');

INSERT INTO per_customer
SELECT customer, COUNT(*), SUM(amount), MIN(amount), MAX(qty), SUM(qty), COUNT(DISTINCT category)
FROM orders
GROUP BY customer;
