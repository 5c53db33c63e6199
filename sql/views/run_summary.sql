-- purpose: one row per run with its out-of-sample headline metrics (fold = -1 in fold_metrics), newest first
-- params: none
-- grain: run_id
CREATE OR REPLACE TEMP VIEW run_summary AS
SELECT r.run_id, r.kind, r.status, r.started_at, r.finished_at, r.symbols, r.interval, r.start_ts, r.end_ts,
       r.optimistic, r.config_hash, r.data_version, m.cagr, m.sharpe, m.sortino, m.max_drawdown, m.win_rate,
       m.avg_trade, m.turnover, m.exposure, m.trades, m.start_equity, m.end_equity,
       (SELECT count(*) FROM folds f WHERE f.run_id = r.run_id) AS n_folds
FROM runs AS r
LEFT JOIN fold_metrics AS m ON m.run_id = r.run_id AND m.fold = -1 AND m.scope = 'oos'
ORDER BY r.started_at DESC, r.run_id
