-- Regular INNER join with growing state: every order and every payment is kept (no TTL, no
-- time bound), so the join's state grows to ${EVENTS} rows. Each payment matches the order
-- with the same id; ids arrive in the same order on both sides.
CREATE TABLE orders (id BIGINT, customer BIGINT, amount INT) WITH (
  'connector' = 'datagen', 'rows-per-second' = '1000000000', 'number-of-rows' = '${HALF}',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '${HALF}',
  'fields.customer.min' = '1', 'fields.customer.max' = '100000',
  'fields.amount.min' = '1', 'fields.amount.max' = '1000');
CREATE TABLE payments (order_id BIGINT, method STRING) WITH (
  'connector' = 'datagen', 'rows-per-second' = '1000000000', 'number-of-rows' = '${HALF}',
  'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '1', 'fields.order_id.end' = '${HALF}',
  'fields.method.length' = '8');
CREATE TABLE sink (id BIGINT, customer BIGINT, amount INT, method STRING) WITH ('connector' = 'blackhole');
INSERT INTO sink
SELECT o.id, o.customer, o.amount, p.method FROM orders o JOIN payments p ON o.id = p.order_id;
