-- purpose: audit of every DataSanity repair: what changed, where, before and after
-- params: none
-- grain: one row per repaired value or dropped row
CREATE TABLE sanity_repairs (
    run_id      VARCHAR NOT NULL,
    interval    VARCHAR,
    symbol      VARCHAR,
    ts          TIMESTAMPTZ,
    action      VARCHAR NOT NULL,
    column_name VARCHAR,
    before      VARCHAR,
    after       VARCHAR,
    created_at  TIMESTAMPTZ NOT NULL
);
