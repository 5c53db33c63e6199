-- purpose: protective stop orders in the paper journal: the stop level of an order of type 'stop'
--          (NULL for market and limit orders)
-- params: none
-- grain: client_order_id
ALTER TABLE paper_orders ADD COLUMN stop_price DOUBLE;
