CREATE TABLE orders (
  id INT,
  uid STRING,
  amount INT,
  price DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv');
CREATE TEMPORARY VIEW v1 AS
  SELECT id, UPPER(uid) AS who, amount FROM orders WHERE amount <> 0;
CREATE TEMPORARY VIEW v2 (k, person, qty) AS
  SELECT id, who, amount * 10 FROM v1 WHERE id < 7;
CREATE TABLE res (
  k INT,
  person STRING,
  qty INT
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res SELECT k, person, qty FROM v2;
