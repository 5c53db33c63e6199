-- purpose: the catalog of bar Parquet files; `version` bumps whenever a symbol's stored bars change
-- params: none
-- grain: (interval, symbol)
CREATE TABLE bar_files (
    interval     VARCHAR NOT NULL,
    symbol       VARCHAR NOT NULL,
    path         VARCHAR NOT NULL,      -- relative to the warehouse folder
    rows         BIGINT NOT NULL,
    first_ts     TIMESTAMPTZ,
    last_ts      TIMESTAMPTZ,
    content_hash VARCHAR NOT NULL,
    version      INTEGER NOT NULL,
    ingest_id    VARCHAR NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (interval, symbol)
);
