CREATE TABLE orders (
  id INT,
  uid STRING,
  amount INT,
  price DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv');
CREATE VIEW positive_orders AS
  SELECT id, uid, amount, amount * price AS cost FROM orders WHERE amount > 0;
CREATE TABLE res (
  id INT,
  uid STRING,
  cost DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id, uid, cost FROM positive_orders WHERE cost < 100;
