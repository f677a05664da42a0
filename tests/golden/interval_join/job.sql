-- Interval joins: a shipment counts when it happens within 2 minutes after the order
-- (bounds inclusive, both sides' state dropped once the watermark passes the interval).
CREATE TABLE orders (id INT, item STRING, ots TIMESTAMP(3), WATERMARK FOR ots AS ots - INTERVAL '10' MINUTE)
  WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv');
CREATE TABLE shipments (order_id INT, sts TIMESTAMP(3), WATERMARK FOR sts AS sts - INTERVAL '10' MINUTE)
  WITH ('connector' = 'filesystem', 'path' = 'input/shipments.csv', 'format' = 'csv');
CREATE TABLE shipped (id INT, item STRING, ots TIMESTAMP(3), sts TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/shipped', 'format' = 'csv');
CREATE TABLE all_orders (id INT, item STRING, sts TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/all_orders', 'format' = 'debezium-json');
EXECUTE STATEMENT SET BEGIN
INSERT INTO shipped
SELECT o.id, o.item, o.ots, CAST(s.sts AS TIMESTAMP(3))
FROM orders o JOIN shipments s
  ON o.id = s.order_id AND s.sts BETWEEN o.ots AND o.ots + INTERVAL '2' MINUTE;
INSERT INTO all_orders
SELECT o.id, o.item, CAST(s.sts AS TIMESTAMP(3))
FROM orders o LEFT JOIN shipments s
  ON o.id = s.order_id AND s.sts >= o.ots AND s.sts < o.ots + INTERVAL '1' MINUTE;
END;
