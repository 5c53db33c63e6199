-- purpose: what the broker answered about each order (placement, duplicates after a restart, cancels)
-- params: none
-- grain: one row per answer
CREATE TABLE paper_acks (
    paper_id        VARCHAR NOT NULL,
    cycle           INTEGER NOT NULL,
    client_order_id VARCHAR NOT NULL,
    order_id        VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,
    filled_qty      DOUBLE NOT NULL,
    avg_fill_price  DOUBLE,
    duplicate       BOOLEAN NOT NULL,
    reason          VARCHAR,
    code            INTEGER,
    recorded_at     TIMESTAMPTZ NOT NULL
);
