-- purpose: rows refused by DataSanity in enforce mode, with the codes that refused them
-- params: none
-- grain: one row per refused bar per ingest
CREATE TABLE quarantine (
    run_id     VARCHAR NOT NULL,
    symbol     VARCHAR NOT NULL,
    interval   VARCHAR NOT NULL,
    ts         TIMESTAMPTZ,
    open       DOUBLE,
    high       DOUBLE,
    low        DOUBLE,
    close      DOUBLE,
    adj_close  DOUBLE,
    volume     DOUBLE,
    source     VARCHAR,
    codes      VARCHAR,
    created_at TIMESTAMPTZ NOT NULL
);
