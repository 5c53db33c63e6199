-- purpose: metrics per fold (out of sample) and for the whole stitched out-of-sample curve (fold = -1)
-- params: none
-- grain: (run_id, fold, scope)
CREATE TABLE fold_metrics (
    run_id       VARCHAR NOT NULL,
    fold         INTEGER NOT NULL,
    scope        VARCHAR NOT NULL,          -- oos
    cagr         DOUBLE,
    sharpe       DOUBLE,
    sortino      DOUBLE,
    max_drawdown DOUBLE,
    win_rate     DOUBLE,
    avg_trade    DOUBLE,
    turnover     DOUBLE,
    exposure     DOUBLE,
    trades       DOUBLE,
    start_equity DOUBLE,
    end_equity   DOUBLE
);
