-- Growing keyed state under checkpoints: a regular join whose right side never matches keeps
-- every left row (id, a ${PAYLOAD}-character payload), so each checkpoint's snapshot covers
-- every row read so far.
CREATE TABLE l (id BIGINT, payload STRING) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '${ROWS}', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '${ROWS}',
  'fields.payload.length' = '${PAYLOAD}'
);
CREATE TABLE r (id BIGINT) WITH (
  'connector' = 'datagen', 'number-of-rows' = '1',
  'fields.id.min' = '-10', 'fields.id.max' = '-1'
);
CREATE TABLE sink (id BIGINT, payload STRING) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT l.id, l.payload FROM l JOIN r ON l.id = r.id;
