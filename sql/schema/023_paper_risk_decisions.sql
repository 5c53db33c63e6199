-- purpose: every decision of the live risk layer with its reason: orders shaped by a cap, the funding limit or a
--          forced exit, orders refused, daily loss cuts, drawdown halts and their release
-- params: none
-- grain: one row per decision
CREATE TABLE paper_risk_decisions (
    paper_id    VARCHAR NOT NULL,
    cycle       INTEGER NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,
    scope       VARCHAR NOT NULL,           -- book | order
    symbol      VARCHAR,
    rule        VARCHAR NOT NULL,           -- rebalance, no_short, position_cap, gross_cap, funding_clip, ...
    action      VARCHAR NOT NULL,           -- allow | shape | flatten | halt | resume | skip | refuse
    reason      VARCHAR NOT NULL,
    value       DOUBLE,
    limit_value DOUBLE
);
