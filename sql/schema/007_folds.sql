-- purpose: the folds of a run: warm-up, train and test windows as timestamps, and how long each took
-- params: none
-- grain: (run_id, fold)
CREATE TABLE folds (
    run_id          VARCHAR NOT NULL,
    fold            INTEGER NOT NULL,
    warmup_start_ts TIMESTAMPTZ NOT NULL,
    train_start_ts  TIMESTAMPTZ NOT NULL,
    train_end_ts    TIMESTAMPTZ NOT NULL,   -- last train bar (inclusive)
    test_start_ts   TIMESTAMPTZ NOT NULL,
    test_end_ts     TIMESTAMPTZ NOT NULL,   -- last test bar (inclusive)
    train_bars      INTEGER NOT NULL,
    test_bars       INTEGER NOT NULL,
    tune_seconds    DOUBLE,
    PRIMARY KEY (run_id, fold)
);
