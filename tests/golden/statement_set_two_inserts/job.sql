CREATE TABLE orders (
  id INT,
  uid STRING,
  amount INT,
  price DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv');
CREATE TABLE positives (
  id INT,
  uid STRING,
  amount INT
) WITH ('connector' = 'filesystem', 'path' = 'output/positives', 'format' = 'csv');
CREATE TABLE others (
  id INT,
  tag STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/others', 'format' = 'json');

EXECUTE STATEMENT SET
BEGIN
  INSERT INTO positives SELECT id, uid, amount FROM orders WHERE amount > 0;
  -- a comment; with a semicolon
  INSERT INTO others SELECT id, CONCAT(uid, ';', CAST(amount AS STRING)) FROM orders WHERE amount <= 0;
END;
