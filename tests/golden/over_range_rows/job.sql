-- OVER aggregation on event time: a 5-second RANGE frame (rows with equal times are peers
-- and share one result) and a 2-preceding ROWS frame.
CREATE TABLE trades (sym STRING, qty INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '10' SECOND)
  WITH ('connector' = 'filesystem', 'path' = 'input/trades.csv', 'format' = 'csv', 'csv.null-literal' = '');
CREATE TABLE by_range (sym STRING, ts TIMESTAMP(3), qty INT, cnt BIGINT, total INT, mx INT)
  WITH ('connector' = 'filesystem', 'path' = 'output/by_range', 'format' = 'csv');
CREATE TABLE by_rows (sym STRING, ts TIMESTAMP(3), qty INT, cnt BIGINT, total INT, mn INT)
  WITH ('connector' = 'filesystem', 'path' = 'output/by_rows', 'format' = 'csv');
EXECUTE STATEMENT SET BEGIN
INSERT INTO by_range
SELECT sym, ts, qty,
  COUNT(qty) OVER w, SUM(qty) OVER w, MAX(qty) OVER w
FROM trades
WINDOW w AS (PARTITION BY sym ORDER BY ts RANGE BETWEEN INTERVAL '5' SECOND PRECEDING AND CURRENT ROW);
INSERT INTO by_rows
SELECT sym, ts, qty,
  COUNT(*) OVER (PARTITION BY sym ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
  SUM(qty) OVER (PARTITION BY sym ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
  MIN(qty) OVER (PARTITION BY sym ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
FROM trades;
END;
