-- purpose: what happened around the cycles: starts, restarts and reconciliation, broker disconnects and
--          reconnects, halts, NO-GO, errors
-- params: none
-- grain: one row per event
CREATE TABLE paper_events (
    paper_id    VARCHAR NOT NULL,
    event_at    TIMESTAMPTZ NOT NULL,
    cycle       INTEGER,
    kind        VARCHAR NOT NULL,
    message     VARCHAR NOT NULL,
    detail_json VARCHAR
);
