-- Window joins (Flink's WindowJoin): two TUMBLE TVFs joined on window_start, window_end and
-- a key; each window is joined once when the watermark passes its end, so every join type
-- (outer ones included) is append-only and can be written to csv.
CREATE TABLE lt (ts TIMESTAMP(3), num INT, id STRING, WATERMARK FOR ts AS ts - INTERVAL '3' MINUTE)
  WITH ('connector' = 'filesystem', 'path' = 'input/left.csv', 'format' = 'csv');
CREATE TABLE rt (ts TIMESTAMP(3), num INT, id STRING, WATERMARK FOR ts AS ts - INTERVAL '3' MINUTE)
  WITH ('connector' = 'filesystem', 'path' = 'input/right.csv', 'format' = 'csv');

CREATE TABLE inner_out (l_id STRING, r_id STRING, num INT, window_start TIMESTAMP(3), window_end TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/inner_out', 'format' = 'csv');
CREATE TABLE left_out (l_id STRING, r_id STRING, window_end TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/left_out', 'format' = 'csv');
CREATE TABLE right_out (l_id STRING, r_id STRING, window_end TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/right_out', 'format' = 'csv');
CREATE TABLE full_out (l_id STRING, r_id STRING, window_start TIMESTAMP(3), window_end TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/full_out', 'format' = 'csv');
CREATE TABLE semi_out (id STRING, num INT, window_end TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/semi_out', 'format' = 'csv');
CREATE TABLE anti_out (id STRING, num INT, window_end TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/anti_out', 'format' = 'csv');

CREATE TABLE cond_out (l_id STRING, r_id STRING, window_end TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/cond_out', 'format' = 'csv');

CREATE VIEW lw AS SELECT * FROM TABLE(TUMBLE(TABLE lt, DESCRIPTOR(ts), INTERVAL '5' MINUTE));
CREATE VIEW rw AS SELECT * FROM TABLE(TUMBLE(TABLE rt, DESCRIPTOR(ts), INTERVAL '5' MINUTE));

EXECUTE STATEMENT SET BEGIN
INSERT INTO inner_out
SELECT L.id, R.id, L.num, L.window_start, L.window_end
FROM lw L JOIN rw R ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end;
INSERT INTO left_out
SELECT L.id, R.id, L.window_end
FROM lw L LEFT JOIN rw R ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end;
INSERT INTO right_out
SELECT L.id, R.id, R.window_end
FROM lw L RIGHT JOIN rw R ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end;
INSERT INTO full_out
SELECT L.id, R.id, COALESCE(L.window_start, R.window_start), COALESCE(L.window_end, R.window_end)
FROM lw L FULL JOIN rw R ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end;
INSERT INTO cond_out
SELECT L.id, R.id, L.window_end
FROM lw L LEFT JOIN rw R
ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end AND R.id > 'R2';
INSERT INTO semi_out
SELECT L.id, L.num, L.window_end FROM lw L
WHERE L.num IN (SELECT R.num FROM rw R WHERE L.window_start = R.window_start AND L.window_end = R.window_end);
INSERT INTO anti_out
SELECT L.id, L.num, L.window_end FROM lw L
WHERE NOT EXISTS (SELECT * FROM rw R WHERE L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end);
END;
