-- An aggregation over an updating input: the inner GROUP BY retracts its previous result
-- each time a customer's count changes, and the outer one must apply those retractions.
CREATE TABLE orders (
  id INT,
  customer STRING,
  category STRING,
  amount DECIMAL(10, 2),
  qty INT
) WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv', 'csv.null-literal' = '');

CREATE TABLE histogram (
  orders BIGINT,
  customers BIGINT,
  max_total DECIMAL(38, 2),
  min_total DECIMAL(38, 2)
) WITH ('connector' = 'filesystem', 'path' = 'output/histogram', 'format' = 'debezium-json');

CREATE TABLE totals (
  customers BIGINT,
  amount DECIMAL(38, 2)
) WITH ('connector' = 'filesystem', 'path' = 'output/totals', 'format' = 'debezium-json');

CREATE VIEW per_customer AS
SELECT customer, COUNT(*) AS cnt, SUM(amount) AS total FROM orders GROUP BY customer;

EXECUTE STATEMENT SET BEGIN
INSERT INTO histogram
SELECT cnt, COUNT(*), MAX(total), MIN(total) FROM per_customer GROUP BY cnt;
INSERT INTO totals
SELECT COUNT(DISTINCT customer), SUM(total) FROM per_customer;
END;
