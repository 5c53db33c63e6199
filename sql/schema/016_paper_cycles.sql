-- purpose: one row per paper cycle, written atomically with its decisions (targets, risk decisions, orders)
-- params: none
-- grain: (paper_id, cycle)
CREATE TABLE paper_cycles (
    paper_id        VARCHAR NOT NULL,
    cycle           INTEGER NOT NULL,
    bar_no          BIGINT NOT NULL,        -- bars the session has seen, the decision bar's number
    decision_ts     TIMESTAMPTZ NOT NULL,   -- the latest complete bar the targets were decided on
    exec_ts         TIMESTAMPTZ,            -- the bar whose open executes them (replay); null when live
    clock_ts        TIMESTAMPTZ NOT NULL,   -- the loop's clock when the cycle was decided
    status          VARCHAR NOT NULL,       -- planned | sent | done
    params_run_id   VARCHAR,
    data_version    VARCHAR,                -- hash of the bar files' versions read
    forced          VARCHAR,                -- daily_loss | max_drawdown | liquidation when the book was flattened
    exec_equity     DOUBLE,                 -- equity the orders were sized from (reference prices)
    n_orders        INTEGER NOT NULL,
    risk_state_json VARCHAR NOT NULL,       -- the risk state after this cycle's decisions (restart resumes it)
    note            VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    PRIMARY KEY (paper_id, cycle)
);
