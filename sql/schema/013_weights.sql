-- purpose: level-1 composer weights per fold, averaged by asset class, regime and strategy over the test window
-- params: none
-- grain: (run_id, fold, asset_class, regime, strategy)
CREATE TABLE weights (
    run_id      VARCHAR NOT NULL,
    fold        INTEGER NOT NULL,
    asset_class VARCHAR NOT NULL,
    regime      VARCHAR NOT NULL,
    strategy    VARCHAR NOT NULL,
    mean_weight DOUBLE NOT NULL,
    bars        BIGINT NOT NULL
);
