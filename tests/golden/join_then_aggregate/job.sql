-- An aggregation over the changelog of a left join: retractions of NULL-padded rows must
-- reach the counts.
CREATE TABLE orders (id INT, product_id INT, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv', 'csv.null-literal' = '');
CREATE TABLE products (id INT, name STRING, price DECIMAL(5, 2))
  WITH ('connector' = 'filesystem', 'path' = 'input/products.csv', 'format' = 'csv', 'csv.null-literal' = '');
CREATE TABLE per_product (product STRING, orders BIGINT, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'output/per_product', 'format' = 'debezium-json');

INSERT INTO per_product
SELECT COALESCE(p.name, '(unknown)'), COUNT(*), SUM(o.qty)
FROM orders o LEFT JOIN products p ON o.product_id = p.id
GROUP BY COALESCE(p.name, '(unknown)');
