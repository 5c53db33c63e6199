-- purpose: the stitched out-of-sample equity curve of a run, bar by bar
-- params: none
-- grain: (run_id, ts)
CREATE TABLE equity (
    run_id         VARCHAR NOT NULL,
    fold           INTEGER NOT NULL,
    ts             TIMESTAMPTZ NOT NULL,
    equity         DOUBLE NOT NULL,
    cash           DOUBLE NOT NULL,
    gross_exposure DOUBLE NOT NULL
);
