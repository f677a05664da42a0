-- Reference for lookup joins (Flink from PyPI has no jdbc connector): the same enrichment as
-- lookup.sql, written as regular LEFT JOINs against the dimension data as bounded files.
-- With the dimension tables fixed while the job runs, a lookup join gives the final state
-- of these regular joins. crates/stc-cli/tests/lookup_join.rs loads input/platforms.csv into
-- PostgreSQL and input/categories.csv into MariaDB, runs lookup.sql and compares with this
-- case's expected.out; the golden harness runs job.sql itself as a regular-join case.
CREATE TABLE orders (id INT, plat STRING, cate_id INT, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv', 'csv.null-literal' = '');
CREATE TABLE platforms (alias STRING, platform STRING)
  WITH ('connector' = 'filesystem', 'path' = 'input/platforms.csv', 'format' = 'csv');
CREATE TABLE categories (cate_id INT, platform STRING, type_id STRING)
  WITH ('connector' = 'filesystem', 'path' = 'input/categories.csv', 'format' = 'csv');
CREATE TABLE enriched (id INT, pf STRING, type_id STRING, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'output/enriched', 'format' = 'debezium-json');
INSERT INTO enriched
SELECT a.id, a.pf, COALESCE(c.type_id, '16'), a.qty
FROM (
  SELECT o.id, o.cate_id, o.qty, d.platform AS pf
  FROM orders o LEFT JOIN platforms d ON o.plat = d.alias
) AS a
LEFT JOIN categories c ON a.cate_id = c.cate_id AND a.pf = c.platform
WHERE a.qty > 1;
