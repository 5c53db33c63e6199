-- purpose: record which numbered migrations of sql/schema/ a warehouse has applied
-- params: none
-- grain: one row per applied migration
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);
