-- purpose: out-of-sample P&L split by fold, symbol, regime and strategy (a strategy's share of a bar's P&L is
--          its contribution to the blended signal: weight x signal / sum of weight x signal)
-- params: none
-- grain: (run_id, fold, symbol, regime, strategy)
CREATE TABLE attribution (
    run_id   VARCHAR NOT NULL,
    fold     INTEGER NOT NULL,
    symbol   VARCHAR NOT NULL,
    regime   VARCHAR NOT NULL,
    strategy VARCHAR NOT NULL,
    pnl      DOUBLE NOT NULL,
    bars     BIGINT NOT NULL
);
