-- purpose: closed (and still open at the end) round-trip trades of a run's out-of-sample simulation
-- params: none
-- grain: (run_id, symbol, entry_ts)
CREATE TABLE trades (
    run_id      VARCHAR NOT NULL,
    fold        INTEGER NOT NULL,           -- fold of the entry
    symbol      VARCHAR NOT NULL,
    side        VARCHAR NOT NULL,           -- long | short
    entry_ts    TIMESTAMPTZ NOT NULL,
    exit_ts     TIMESTAMPTZ,                -- null: still open at the end
    qty         DOUBLE NOT NULL,            -- largest absolute position of the trade
    entry_price DOUBLE NOT NULL,            -- volume-weighted
    exit_price  DOUBLE,
    pnl         DOUBLE NOT NULL,            -- after fees; open trades marked at the last close
    ret         DOUBLE NOT NULL,            -- pnl / (qty x entry_price)
    fees        DOUBLE NOT NULL,
    exit_reason VARCHAR
);
