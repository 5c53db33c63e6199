-- purpose: the target weights a paper cycle composed for its decision bar (null weight = hold)
-- params: none
-- grain: (paper_id, cycle, symbol)
CREATE TABLE paper_targets (
    paper_id      VARCHAR NOT NULL,
    cycle         INTEGER NOT NULL,
    symbol        VARCHAR NOT NULL,
    ts            TIMESTAMPTZ NOT NULL,
    asset_class   VARCHAR,
    regime        VARCHAR,
    signal        DOUBLE,
    target_weight DOUBLE
);
