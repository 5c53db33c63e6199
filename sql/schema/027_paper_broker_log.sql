-- purpose: the simulated broker's finished orders and its fills, appended once each (they never change again), so
--          that the state saved after every change (paper_broker_state) holds only what still changes: cash,
--          positions, marks, working orders
-- params: none
-- grain: (paper_id, kind, key): kind 'order' (key: client order id) or 'fill' (key: exec id)
CREATE TABLE paper_broker_log (
    paper_id  VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL,
    key       VARCHAR NOT NULL,
    seq       BIGINT NOT NULL,       -- the order's placement number, the fill's execution number
    item_json VARCHAR NOT NULL,
    PRIMARY KEY (paper_id, kind, key)
);
