-- Keyed state under checkpoints: a GROUP BY over 100 000 keys.
CREATE TABLE events (id BIGINT, k BIGINT, v BIGINT) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '${ROWS}', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '${ROWS}',
  'fields.k.min' = '1', 'fields.k.max' = '100000',
  'fields.v.min' = '1', 'fields.v.max' = '1000'
);
CREATE TABLE sink (k BIGINT, n BIGINT, total BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT k, COUNT(*), SUM(v) FROM events GROUP BY k;
