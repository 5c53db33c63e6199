-- purpose: out-of-sample P&L per regime label and the bars spent in it
-- params: none
-- grain: (run_id, regime)
CREATE OR REPLACE TEMP VIEW attribution_by_regime AS
SELECT run_id, regime, sum(pnl) AS pnl, sum(bars) AS symbol_bars
FROM attribution
WHERE strategy = '(all)'
GROUP BY run_id, regime
ORDER BY run_id, pnl DESC, regime
