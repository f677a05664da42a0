-- A long-running join with large keyed state: ${ROWS} rows loaded at full speed, then
-- ${RATE} new rows per second for as long as the job runs; the right side never matches, so
-- every left row stays in state. Checkpoints of it cost in proportion to the state when
-- complete, to the new rows when incremental.
CREATE TABLE bulk (id BIGINT, payload STRING) WITH (
  'connector' = 'datagen', 'number-of-rows' = '${ROWS}', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '${ROWS}',
  'fields.payload.length' = '100'
);
CREATE TABLE trickle (id BIGINT, payload STRING) WITH (
  'connector' = 'datagen', 'rows-per-second' = '${RATE}',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '${START}', 'fields.id.end' = '9000000000000',
  'fields.payload.length' = '100'
);
CREATE TABLE r (id BIGINT) WITH (
  'connector' = 'datagen', 'rows-per-second' = '1', 'fields.id.min' = '-10', 'fields.id.max' = '-1'
);
CREATE TABLE sink (id BIGINT, payload STRING) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT l.id, l.payload
FROM (SELECT * FROM bulk UNION ALL SELECT * FROM trickle) AS l JOIN r ON l.id = r.id;
