-- Interval join: a shipment joins its order when it happens within 10 seconds after it.
-- Event time advances 1 ms per row on both sides; the state is dropped by the watermark.
CREATE TABLE orders (id BIGINT, item INT,
  ots AS TO_TIMESTAMP_LTZ(id, 3), WATERMARK FOR ots AS ots - INTERVAL '1' SECOND) WITH (
  'connector' = 'datagen', 'rows-per-second' = '1000000000', 'number-of-rows' = '${HALF}',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '${HALF}',
  'fields.item.min' = '1', 'fields.item.max' = '10000');
CREATE TABLE shipments (order_id BIGINT,
  sts AS TO_TIMESTAMP_LTZ(order_id + 5000, 3), WATERMARK FOR sts AS sts - INTERVAL '1' SECOND) WITH (
  'connector' = 'datagen', 'rows-per-second' = '1000000000', 'number-of-rows' = '${HALF}',
  'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '1', 'fields.order_id.end' = '${HALF}');
CREATE TABLE sink (id BIGINT, item INT, sts TIMESTAMP_LTZ(3)) WITH ('connector' = 'blackhole');
INSERT INTO sink
SELECT o.id, o.item, s.sts FROM orders o JOIN shipments s
  ON o.id = s.order_id AND s.sts BETWEEN o.ots AND o.ots + INTERVAL '10' SECOND;
