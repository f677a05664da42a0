-- The lookup-join form of job.sql (see there); ${PG_TABLE} and ${MARIA_TABLE} are replaced
-- by the test with the names of the tables it created.
CREATE TABLE orders (id INT, plat STRING, cate_id INT, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv', 'csv.null-literal' = '');
CREATE TABLE platforms (alias STRING, platform STRING, PRIMARY KEY (alias) NOT ENFORCED)
  WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://127.0.0.1:5432/test', 'table-name' = '${PG_TABLE}', 'username' = 'postgres');
CREATE TABLE categories (cate_id INT, platform STRING, type_id STRING)
  WITH ('connector' = 'jdbc', 'url' = 'jdbc:mysql://127.0.0.1:3306/test', 'table-name' = '${MARIA_TABLE}', 'username' = 'root',
        'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '100', 'lookup.partial-cache.cache-missing-key' = 'true');
CREATE TABLE enriched (id INT, pf STRING, type_id STRING, qty INT)
  WITH ('connector' = 'filesystem', 'path' = 'output/enriched', 'format' = 'debezium-json');
INSERT INTO enriched
SELECT a.id, a.pf, COALESCE(c.type_id, '16'), a.qty
FROM (
  SELECT o.id, o.cate_id, o.qty, d.platform AS pf
  FROM orders o LEFT JOIN platforms FOR SYSTEM_TIME AS OF PROCTIME() AS d ON o.plat = d.alias
) AS a
LEFT JOIN categories FOR SYSTEM_TIME AS OF PROCTIME() AS c ON a.cate_id = c.cate_id AND a.pf = c.platform
WHERE a.qty > 1;
