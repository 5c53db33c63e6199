-- purpose: out-of-sample P&L per strategy (its contribution to the blended signal)
-- params: none
-- grain: (run_id, strategy)
CREATE OR REPLACE TEMP VIEW attribution_by_strategy AS
SELECT run_id, strategy, sum(pnl) AS pnl
FROM attribution
GROUP BY run_id, strategy
ORDER BY run_id, pnl DESC, strategy
