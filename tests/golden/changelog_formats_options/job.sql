-- Options of the changelog formats: debezium-json.schema-include (the Debezium envelope with
-- "schema" and "payload") with ISO-8601 timestamps, and canal-json.ignore-parse-errors (a
-- line that is not JSON, a value that does not fit its column, an unknown "type": each
-- record skipped whole, the other changes applied).
CREATE TABLE accounts (
  id INT,
  owner STRING,
  balance DOUBLE,
  opened TIMESTAMP(3)
) WITH (
  'connector' = 'filesystem', 'path' = 'input/accounts.json', 'format' = 'debezium-json',
  'debezium-json.schema-include' = 'true',
  'debezium-json.timestamp-format.standard' = 'ISO-8601'
);

CREATE TABLE events (
  k STRING,
  n INT
) WITH (
  'connector' = 'filesystem', 'path' = 'input/events.canal.json', 'format' = 'canal-json',
  'canal-json.ignore-parse-errors' = 'true'
);

CREATE TABLE account_copy (id INT, owner STRING, balance DOUBLE, opened TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = 'output/account_copy', 'format' = 'debezium-json');
CREATE TABLE totals (total INT, cnt BIGINT)
  WITH ('connector' = 'filesystem', 'path' = 'output/totals', 'format' = 'debezium-json');

EXECUTE STATEMENT SET BEGIN
INSERT INTO account_copy SELECT * FROM accounts;
INSERT INTO totals SELECT SUM(n), COUNT(*) FROM events;
END;
