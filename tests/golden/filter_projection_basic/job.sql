CREATE TABLE orders (
  id INT,
  uid STRING,
  amount INT,
  price DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  uid STRING,
  dbl INT,
  cost DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id, uid, amount * 2 AS dbl, amount * price AS cost
FROM orders
WHERE amount > 0 AND uid <> 'bob';
