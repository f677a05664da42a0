-- The project catalog: tables and views declared once per project and usable by all its jobs
-- (like a Flink catalog). Each object is its one CREATE TABLE / CREATE VIEW statement.
CREATE TABLE catalog_objects (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    ddl         TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

-- Each version snapshots the catalog it was started with (JSON: [{"name", "ddl"}]), so a
-- restart or take-over runs what was started even after the catalog changed.
ALTER TABLE job_versions ADD COLUMN catalog TEXT NOT NULL DEFAULT '[]';
