-- A regular inner join of two append-only streams is append-only: it can be written to a
-- csv file. NULL keys never match; a key with two rows on one side joins twice.
CREATE TABLE orders (id INT, product_id INT, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv', 'csv.null-literal' = '');
CREATE TABLE products (id INT, name STRING, price DECIMAL(5, 2))
  WITH ('connector' = 'filesystem', 'path' = 'input/products.csv', 'format' = 'csv', 'csv.null-literal' = '');
CREATE TABLE lines (order_id INT, product STRING, qty INT, cost DECIMAL(10, 2))
  WITH ('connector' = 'filesystem', 'path' = 'output/lines', 'format' = 'csv', 'csv.null-literal' = '');

INSERT INTO lines
SELECT o.id, p.name, o.qty, o.qty * p.price
FROM orders AS o
JOIN products AS p ON o.product_id = p.id
WHERE o.qty > 1 OR p.price IS NULL;
