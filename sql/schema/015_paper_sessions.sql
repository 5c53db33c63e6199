-- purpose: one row per paper-trading session (a live loop or a replay): what it trades, through which broker,
--          with which parameters; updated_at is the loop's heartbeat
-- params: none
-- grain: paper_id
CREATE TABLE paper_sessions (
    paper_id      VARCHAR PRIMARY KEY,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,     -- last heartbeat of the loop (wall clock)
    mode          VARCHAR NOT NULL,         -- live | replay
    broker        VARCHAR NOT NULL,         -- sim | ibkr
    symbols       VARCHAR[] NOT NULL,
    interval      VARCHAR NOT NULL,
    params_run_id VARCHAR,                  -- the run whose chosen parameters decide (replay: fixed at creation)
    replay_start  TIMESTAMPTZ,
    replay_end    TIMESTAMPTZ,
    config_hash   VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,         -- running | stopped | finished | no_go | failed
    message       VARCHAR
);
