-- purpose: every execution of a paper session's orders, reconciled from the broker (never recorded twice)
-- params: none
-- grain: (paper_id, exec_id)
CREATE TABLE paper_fills (
    paper_id        VARCHAR NOT NULL,
    exec_id         VARCHAR NOT NULL,
    client_order_id VARCHAR NOT NULL,
    cycle           INTEGER NOT NULL,       -- the cycle that decided the order
    symbol          VARCHAR NOT NULL,
    side            VARCHAR NOT NULL,
    qty             DOUBLE NOT NULL,
    price           DOUBLE NOT NULL,
    commission      DOUBLE,
    ts              TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (paper_id, exec_id)
);
