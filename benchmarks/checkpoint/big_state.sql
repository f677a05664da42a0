-- Large keyed state: a regular join whose right side never matches keeps every left row
-- (id, a ${PAYLOAD}-character payload) in state, so each snapshot covers every row read so far.
CREATE TABLE l (id BIGINT, payload STRING) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '${ROWS}', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '${ROWS}',
  'fields.payload.length' = '${PAYLOAD}'
);
-- ${RIGHT} is `'rows-per-second' = '1'` (unbounded: the job runs until it is stopped) or
-- `'number-of-rows' = '1'` (the job ends with the left side).
CREATE TABLE r (id BIGINT) WITH (
  'connector' = 'datagen', ${RIGHT},
  'fields.id.min' = '-10', 'fields.id.max' = '-1'
);
CREATE TABLE sink (id BIGINT, payload STRING) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT l.id, l.payload FROM l JOIN r ON l.id = r.id;
