-- purpose: the simulated broker's whole state (orders, fills, cash, positions), saved after every change so
--          that a restart resumes the same broker
-- params: none
-- grain: paper_id
CREATE TABLE paper_broker_state (
    paper_id   VARCHAR PRIMARY KEY,
    seq        BIGINT NOT NULL,
    saved_at   TIMESTAMPTZ NOT NULL,
    state_json VARCHAR NOT NULL
);
