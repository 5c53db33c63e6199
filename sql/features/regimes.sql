-- purpose: regime label (trend | chop | volatile) and confidence per symbol and bar, causal
-- params: $adx_trend (ADX level that counts as trending), $er_trend (efficiency ratio that counts as trending),
--         $vol_window_bars (trailing bars for the volatility percentile), $vol_pct_threshold (percentile above
--         which a bar is volatile), $min_dwell_bars (bars a new raw label must persist before it is adopted)
-- grain: (symbol, ts); reads table `features` (symbol, ts, adx, er, rvol)
-- method: trend_score = (adx / adx_trend + er / er_trend) / 2; vol_pct = normal CDF of the z-score of rvol over
--         the trailing window (logistic approximation 1 / (1 + exp(-1.702 z))). Raw label: volatile when
--         vol_pct >= threshold, else trend when trend_score >= 1, else chop. Effective label: the raw label of
--         the latest bar whose raw run had lasted min_dwell bars (so a label flips only after persisting).
--         Every window frame ends at the current row: a value at bar t reads bars up to t only.
WITH scored AS (
    SELECT
        symbol, ts,
        (adx / $adx_trend + er / $er_trend) / 2.0 AS trend_score,
        (rvol - avg(rvol) OVER w) / nullif(stddev_samp(rvol) OVER w, 0) AS vol_z,
        count(rvol) OVER w AS vol_n
    FROM features
    WINDOW w AS (PARTITION BY symbol ORDER BY ts ROWS BETWEEN $vol_window_bars - 1 PRECEDING AND CURRENT ROW)
),
raw AS (
    SELECT
        symbol, ts, trend_score,
        1.0 / (1.0 + exp(-1.702 * coalesce(vol_z, 0.0))) AS vol_pct,
        CASE
            WHEN trend_score IS NULL OR vol_n < 20 THEN NULL
            WHEN 1.0 / (1.0 + exp(-1.702 * coalesce(vol_z, 0.0))) >= $vol_pct_threshold THEN 'volatile'
            WHEN trend_score >= 1.0 THEN 'trend'
            ELSE 'chop'
        END AS raw_label
    FROM scored
),
runs AS (
    SELECT *,
        sum(CASE WHEN raw_label IS DISTINCT FROM prev_label THEN 1 ELSE 0 END)
            OVER (PARTITION BY symbol ORDER BY ts ROWS UNBOUNDED PRECEDING) AS run_id
    FROM (
        SELECT *, lag(raw_label) OVER (PARTITION BY symbol ORDER BY ts) AS prev_label FROM raw
    )
),
dwell AS (
    SELECT *,
        row_number() OVER (PARTITION BY symbol, run_id ORDER BY ts) AS run_pos
    FROM runs
),
labelled AS (
    SELECT symbol, ts, trend_score, vol_pct,
        last_value(CASE WHEN raw_label IS NOT NULL AND run_pos >= $min_dwell_bars THEN raw_label END IGNORE NULLS)
            OVER (PARTITION BY symbol ORDER BY ts ROWS UNBOUNDED PRECEDING) AS regime
    FROM dwell
)
SELECT
    symbol, ts, regime,
    CASE regime
        WHEN 'volatile' THEN least(greatest((vol_pct - 0.5) / 0.5, 0.0), 1.0)
        WHEN 'trend' THEN least(greatest(trend_score - 0.5, 0.0), 1.0)
        WHEN 'chop' THEN least(greatest(1.5 - trend_score, 0.0), 1.0)
    END AS regime_confidence
FROM labelled
ORDER BY symbol, ts
