-- purpose: per-fold out-of-sample metrics with the fold windows
-- params: none
-- grain: (run_id, fold)
CREATE OR REPLACE TEMP VIEW fold_report AS
SELECT f.run_id, f.fold, f.train_start_ts, f.train_end_ts, f.test_start_ts, f.test_end_ts, m.cagr, m.sharpe,
       m.sortino, m.max_drawdown, m.win_rate, m.avg_trade, m.turnover, m.exposure, m.trades, m.start_equity,
       m.end_equity, f.tune_seconds
FROM folds AS f
JOIN fold_metrics AS m ON m.run_id = f.run_id AND m.fold = f.fold AND m.scope = 'oos'
ORDER BY f.run_id, f.fold
