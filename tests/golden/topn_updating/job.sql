-- Top-N: the two best scores per subject, updated as better ones arrive (rows leave the
-- top when pushed down). NULL ordering as written.
CREATE TABLE scores (id INT, subject STRING, student STRING, score INT)
  WITH ('connector' = 'filesystem', 'path' = 'input/scores.csv', 'format' = 'csv', 'csv.null-literal' = '');

CREATE TABLE top2 (subject STRING, student STRING, score INT, rn BIGINT)
  WITH ('connector' = 'filesystem', 'path' = 'output/top2', 'format' = 'debezium-json');

CREATE TABLE worst (subject STRING, student STRING, score INT, r BIGINT)
  WITH ('connector' = 'filesystem', 'path' = 'output/worst', 'format' = 'debezium-json');

EXECUTE STATEMENT SET BEGIN
INSERT INTO top2
SELECT subject, student, score, rn FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY subject ORDER BY score DESC NULLS LAST, id) AS rn
  FROM scores
) WHERE rn <= 2;
INSERT INTO worst
SELECT subject, student, score, r FROM (
  SELECT subject, student, score, ROW_NUMBER() OVER (PARTITION BY subject ORDER BY score ASC NULLS FIRST) AS r
  FROM scores
) WHERE r <= 2;
END;
