CREATE TABLE events (k STRING, v INT) WITH ('connector' = 'filesystem', 'path' = 'input/events.csv', 'format' = 'csv');
CREATE TABLE out_distinct (k STRING, v INT) WITH ('connector' = 'filesystem', 'path' = 'output/out_distinct', 'format' = 'debezium-json');
INSERT INTO out_distinct SELECT DISTINCT k, v FROM events;
