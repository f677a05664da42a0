-- Outer joins produce updates: a row first emitted padded with NULLs is retracted when
-- its partner arrives. Compared as final state (the two sources race in both engines).
CREATE TABLE orders (id INT, product_id INT, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv', 'csv.null-literal' = '');
CREATE TABLE products (id INT, name STRING, price DECIMAL(5, 2))
  WITH ('connector' = 'filesystem', 'path' = 'input/products.csv', 'format' = 'csv', 'csv.null-literal' = '');
CREATE TABLE left_out (order_id INT, product STRING)
  WITH ('connector' = 'filesystem', 'path' = 'output/left_out', 'format' = 'debezium-json');
CREATE TABLE right_out (order_id INT, product STRING)
  WITH ('connector' = 'filesystem', 'path' = 'output/right_out', 'format' = 'debezium-json');
CREATE TABLE full_out (order_id INT, product STRING, pid INT)
  WITH ('connector' = 'filesystem', 'path' = 'output/full_out', 'format' = 'debezium-json');
CREATE TABLE cond_out (order_id INT, product STRING)
  WITH ('connector' = 'filesystem', 'path' = 'output/cond_out', 'format' = 'debezium-json');

EXECUTE STATEMENT SET BEGIN
INSERT INTO left_out SELECT o.id, p.name FROM orders o LEFT JOIN products p ON o.product_id = p.id;
INSERT INTO right_out SELECT o.id, p.name FROM orders o RIGHT JOIN products p ON o.product_id = p.id;
INSERT INTO full_out SELECT o.id, p.name, p.id FROM orders o FULL OUTER JOIN products p ON o.product_id = p.id;
INSERT INTO cond_out SELECT o.id, p.name FROM orders o LEFT JOIN products p ON o.product_id = p.id AND o.qty < p.id - 100;
END;
