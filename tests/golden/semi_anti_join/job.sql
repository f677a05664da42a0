-- IN / EXISTS (semi join) and NOT EXISTS (anti join) against another stream.
CREATE TABLE orders (id INT, product_id INT, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv', 'csv.null-literal' = '');
CREATE TABLE products (id INT, name STRING, price DECIMAL(5, 2))
  WITH ('connector' = 'filesystem', 'path' = 'input/products.csv', 'format' = 'csv', 'csv.null-literal' = '');
CREATE TABLE known (id INT, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'output/known', 'format' = 'debezium-json');
CREATE TABLE priced (id INT, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'output/priced', 'format' = 'debezium-json');
CREATE TABLE orphans (id INT, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'output/orphans', 'format' = 'debezium-json');
EXECUTE STATEMENT SET BEGIN
INSERT INTO known SELECT id, qty FROM orders WHERE product_id IN (SELECT id FROM products);
INSERT INTO priced SELECT o.id, o.qty FROM orders o
  WHERE EXISTS (SELECT 1 FROM products p WHERE p.id = o.product_id AND p.price > 0.6);
INSERT INTO orphans SELECT o.id, o.qty FROM orders o
  WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = o.product_id);
END;
