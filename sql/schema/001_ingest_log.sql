-- purpose: one row per symbol per ingest: what came in and what changed in storage
-- params: none
-- grain: (ingest_id, interval, symbol)
CREATE TABLE ingest_log (
    ingest_id      VARCHAR NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ NOT NULL,
    source         VARCHAR NOT NULL,
    interval       VARCHAR NOT NULL,
    symbol         VARCHAR NOT NULL,
    status         VARCHAR NOT NULL,   -- stored | unchanged | failed | rejected
    rows_in        BIGINT NOT NULL,
    rows_new       BIGINT NOT NULL,
    rows_replaced  BIGINT NOT NULL,
    rows_unchanged BIGINT NOT NULL,
    first_ts       TIMESTAMPTZ,
    last_ts        TIMESTAMPTZ,
    message        VARCHAR
);
