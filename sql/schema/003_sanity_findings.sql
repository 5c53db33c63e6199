-- purpose: DataSanity findings from ingests and `tcols validate` runs
-- params: none
-- grain: one row per finding (check, symbol, ts) per run
CREATE TABLE sanity_findings (
    run_id      VARCHAR NOT NULL,       -- ingest id or validate run id
    context     VARCHAR NOT NULL,       -- ingest | validate
    interval    VARCHAR,
    check_order INTEGER NOT NULL,
    code        VARCHAR NOT NULL,
    severity    VARCHAR NOT NULL,
    symbol      VARCHAR,
    ts          TIMESTAMPTZ,
    message     VARCHAR NOT NULL,
    observed    DOUBLE,
    created_at  TIMESTAMPTZ NOT NULL
);
