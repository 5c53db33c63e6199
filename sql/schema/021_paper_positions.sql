-- purpose: the broker's positions at each cycle's decision bar close, marked at that close
-- params: none
-- grain: (paper_id, cycle, symbol)
CREATE TABLE paper_positions (
    paper_id VARCHAR NOT NULL,
    cycle    INTEGER NOT NULL,
    ts       TIMESTAMPTZ NOT NULL,
    symbol   VARCHAR NOT NULL,
    qty      DOUBLE NOT NULL,
    avg_cost DOUBLE,
    mark     DOUBLE,
    value    DOUBLE
);
