-- purpose: every order a paper cycle decided, journalled before it is sent; the client order id is derived
--          from (session, cycle, symbol), so a restart re-sends the same id and the broker creates nothing twice
-- params: none
-- grain: client_order_id
CREATE TABLE paper_orders (
    paper_id        VARCHAR NOT NULL,
    cycle           INTEGER NOT NULL,
    seq             INTEGER NOT NULL,       -- placement order within the cycle
    client_order_id VARCHAR PRIMARY KEY,
    symbol          VARCHAR NOT NULL,
    side            VARCHAR NOT NULL,
    qty             DOUBLE NOT NULL,
    order_type      VARCHAR NOT NULL,
    limit_price     DOUBLE,
    tif             VARCHAR NOT NULL,
    ref_price       DOUBLE NOT NULL,        -- the price the order was sized at
    reason          VARCHAR NOT NULL,       -- the kernel's reason: rebalance, position_cap, stop_loss, ...
    created_at      TIMESTAMPTZ NOT NULL
);
