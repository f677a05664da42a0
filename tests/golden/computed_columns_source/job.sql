CREATE TABLE orders (
  id INT,
  uid STRING,
  amount INT,
  price DOUBLE,
  ts TIMESTAMP(3),
  total AS amount * price,
  uname AS UPPER(uid),
  d AS CAST(ts AS DATE),
  name_len AS CHAR_LENGTH(uid)
) WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv');
CREATE TABLE res (
  id INT,
  total DOUBLE,
  uname STRING,
  d DATE,
  name_len INT
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id, total, uname, d, name_len FROM orders WHERE total <> 0;
