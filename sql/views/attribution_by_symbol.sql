-- purpose: out-of-sample P&L per symbol with its trade statistics
-- params: none
-- grain: (run_id, symbol)
CREATE OR REPLACE TEMP VIEW attribution_by_symbol AS
SELECT a.run_id, a.symbol, sum(a.pnl) AS pnl, t.trades, t.win_rate, t.avg_trade_ret
FROM attribution AS a
LEFT JOIN (
    SELECT run_id, symbol, count(*) AS trades, avg(CAST(pnl > 0 AS DOUBLE)) AS win_rate, avg(ret) AS avg_trade_ret
    FROM trades GROUP BY run_id, symbol
) AS t ON t.run_id = a.run_id AND t.symbol = a.symbol
GROUP BY a.run_id, a.symbol, t.trades, t.win_rate, t.avg_trade_ret
ORDER BY a.run_id, pnl DESC, a.symbol
