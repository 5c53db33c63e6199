-- purpose: level-2 tuning: every parameter set scored on each fold's training window, and which one won
-- params: none
-- grain: (run_id, fold, asset_class, strategy, params_json)
CREATE TABLE chosen_params (
    run_id      VARCHAR NOT NULL,
    fold        INTEGER NOT NULL,
    asset_class VARCHAR NOT NULL,
    strategy    VARCHAR NOT NULL,
    params_json VARCHAR NOT NULL,
    score       DOUBLE,
    cagr        DOUBLE,
    sharpe      DOUBLE,
    win_rate    DOUBLE,
    avg_trade   DOUBLE,
    chosen      BOOLEAN NOT NULL
);
