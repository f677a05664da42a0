-- Changelog files read as updating tables: debezium-json (c/r/u/d), canal-json (INSERT,
-- UPDATE with "old", DELETE, a skipped CREATE) and maxwell-json (insert/update/delete).
-- Aggregations over them retract; the changes pass through filters and projections with
-- their row kinds, and are written again as debezium-json, canal-json and maxwell-json.
CREATE TABLE products (
  id INT,
  name STRING,
  category STRING,
  price DECIMAL(10, 2),
  stock INT
) WITH ('connector' = 'filesystem', 'path' = 'input/products.debezium.json', 'format' = 'debezium-json');

CREATE TABLE orders (
  id INT,
  customer STRING,
  amount DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'input/orders.canal.json', 'format' = 'canal-json');

CREATE TABLE users (
  uid BIGINT,
  city STRING,
  score INT
) WITH ('connector' = 'filesystem', 'path' = 'input/users.maxwell.json', 'format' = 'maxwell-json');

CREATE TABLE per_category (
  category STRING,
  products BIGINT,
  total_stock INT,
  max_price DECIMAL(10, 2)
) WITH ('connector' = 'filesystem', 'path' = 'output/per_category', 'format' = 'debezium-json');

CREATE TABLE in_stock (
  id INT,
  name STRING,
  price DECIMAL(10, 2)
) WITH ('connector' = 'filesystem', 'path' = 'output/in_stock', 'format' = 'canal-json');

CREATE TABLE order_copy (
  id INT,
  customer STRING,
  amount DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'output/order_copy', 'format' = 'maxwell-json');

CREATE TABLE per_city (
  city STRING,
  users BIGINT,
  score INT
) WITH ('connector' = 'filesystem', 'path' = 'output/per_city', 'format' = 'canal-json');

EXECUTE STATEMENT SET BEGIN
INSERT INTO per_category
SELECT category, COUNT(*), SUM(stock), MAX(price) FROM products GROUP BY category;
INSERT INTO in_stock
SELECT id, UPPER(name), price FROM products WHERE stock > 0;
INSERT INTO order_copy
SELECT id, customer, amount FROM orders;
INSERT INTO per_city
SELECT city, COUNT(uid), SUM(score) FROM users GROUP BY city;
END;
