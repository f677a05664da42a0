-- Lookup join against PostgreSQL with a PARTIAL cache at a ~90 % hit rate: 9 rows in 10 carry
-- one of 1000 hot keys (fetched once, then cached); the 10th carries a key never seen before
-- (always a round trip). ${DIM} is a table of 2·${EVENTS} rows that the script creates.
CREATE TABLE clicks (seq BIGINT, page INT) WITH (
  'connector' = 'datagen', 'rows-per-second' = '1000000000', 'number-of-rows' = '${EVENTS}',
  'fields.seq.kind' = 'sequence', 'fields.seq.start' = '1', 'fields.seq.end' = '${EVENTS}',
  'fields.page.min' = '1', 'fields.page.max' = '100');
CREATE TABLE users (id BIGINT, name STRING, country STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://127.0.0.1:5432/test', 'table-name' = '${DIM}',
  'username' = 'postgres', 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '100000');
CREATE TABLE sink (seq BIGINT, page INT, name STRING, country STRING) WITH ('connector' = 'blackhole');
INSERT INTO sink
SELECT c.seq, c.page, u.name, u.country
FROM (SELECT seq, page, CASE WHEN MOD(seq, 10) = 0 THEN ${EVENTS} + seq ELSE MOD(seq * 7919, 1000) END AS uid
      FROM clicks) c
JOIN users FOR SYSTEM_TIME AS OF PROCTIME() AS u ON c.uid = u.id;
