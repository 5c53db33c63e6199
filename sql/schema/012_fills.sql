-- purpose: every simulated fill of a run with the rule that shaped it
-- params: none
-- grain: one row per fill
CREATE TABLE fills (
    run_id     VARCHAR NOT NULL,
    fold       INTEGER NOT NULL,
    ts         TIMESTAMPTZ NOT NULL,
    symbol     VARCHAR NOT NULL,
    side       VARCHAR NOT NULL,
    qty        DOUBLE NOT NULL,
    price      DOUBLE NOT NULL,
    fees       DOUBLE NOT NULL,
    reason     VARCHAR NOT NULL,
    optimistic BOOLEAN NOT NULL
);
