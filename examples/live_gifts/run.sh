#!/usr/bin/env bash
# Sets up the dimension and result tables, runs the live-gifts job, shows some results.
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, database test) and MariaDB on
# 127.0.0.1:3306 (user root, database test). Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/../.."
psql -q -h 127.0.0.1 -U postgres -d test -f examples/live_gifts/setup_postgres.sql
mariadb -h 127.0.0.1 -u root test < examples/live_gifts/setup_mariadb.sql
cargo run --release --bin stc -- run examples/live_gifts/job.sql
psql -h 127.0.0.1 -U postgres -d test -c \
  "SELECT pf, type_id, room_id, gift_cost, gift_count, start_time FROM gift_stats_5m ORDER BY start_time, room_id, pf, type_id LIMIT 12"
