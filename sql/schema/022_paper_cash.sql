-- purpose: cash and equity at each cycle's decision bar close (equity = cash + positions at the close)
-- params: none
-- grain: (paper_id, cycle)
CREATE TABLE paper_cash (
    paper_id       VARCHAR NOT NULL,
    cycle          INTEGER NOT NULL,
    ts             TIMESTAMPTZ NOT NULL,
    cash           DOUBLE NOT NULL,
    equity         DOUBLE NOT NULL,
    gross_exposure DOUBLE NOT NULL,
    broker_equity  DOUBLE,                  -- what the broker reports (IBKR refreshes it every few minutes)
    PRIMARY KEY (paper_id, cycle)
);
