-- purpose: one row per walkforward or backtest run: what was asked, on which data and code, and its headline
-- params: none
-- grain: run_id
CREATE TABLE runs (
    run_id          VARCHAR PRIMARY KEY,
    kind            VARCHAR NOT NULL,      -- walkforward | backtest
    status          VARCHAR NOT NULL,      -- running | done | failed
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    config_hash     VARCHAR NOT NULL,
    config_json     VARCHAR NOT NULL,      -- the validated config, secrets redacted
    data_version    VARCHAR NOT NULL,      -- hash of the bar files' versions used
    code_version    VARCHAR NOT NULL,
    seed            BIGINT NOT NULL,
    symbols         VARCHAR[] NOT NULL,
    interval        VARCHAR NOT NULL,
    start_ts        TIMESTAMPTZ,
    end_ts          TIMESTAMPTZ,
    optimistic      BOOLEAN NOT NULL,      -- fills at the deciding bar's close (fill_on = close)
    perf_mode       VARCHAR,
    timings_json    VARCHAR,
    summary_json    VARCHAR                -- out-of-sample headline metrics
);
