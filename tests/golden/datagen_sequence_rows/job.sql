CREATE TABLE gen (
  id BIGINT
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '20',
  'fields.id.kind' = 'sequence',
  'fields.id.start' = '1',
  'fields.id.end' = '20'
);
CREATE TABLE res (
  id BIGINT,
  sq BIGINT,
  label STRING
) WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');

INSERT INTO res
SELECT id, id * id, CONCAT('row-', CAST(id AS STRING)) FROM gen WHERE MOD(id, 3) <> 0;
