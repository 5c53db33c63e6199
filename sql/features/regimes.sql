-- purpose: regime label (trend | chop | volatile) and its confidence per symbol and bar, causal
-- params: $adx_trend (ADX level that counts as trending), $er_trend (efficiency ratio that counts as trending),
--         $vol_window_bars (trailing bars of the realized-volatility percentile), $vol_min_bars (fewest
--         labelled bars in that window before a percentile is trusted), $vol_pct_threshold (percentile at or
--         above which a bar is volatile), $min_dwell_bars (bars a new raw label must persist to be adopted)
-- grain: (symbol, ts), every row of the input; reads table `features` (symbol, ts, adx, er, rvol)
-- method: trend_score = (adx / adx_trend + er / er_trend) / 2 (1 = on the threshold); vol_pct = share of the
--         trailing window's rvol values <= this bar's (cume_dist over the frame, this bar included). Raw label:
--         volatile when vol_pct >= threshold, else trend when trend_score >= 1, else chop. Effective label: the
--         raw label of the latest bar whose raw run had lasted min_dwell bars (a label flips only after
--         persisting). Confidence is 0.5 on the deciding threshold, 1 deep inside the label's region, 0 deep
--         outside it (a label held by the dwell against the evidence). Every frame ends at the current row.
WITH valid AS (
    SELECT symbol, ts, adx, er, rvol
    FROM features
    WHERE adx IS NOT NULL AND er IS NOT NULL AND rvol IS NOT NULL
      AND NOT isnan(adx) AND NOT isnan(er) AND NOT isnan(rvol)
),
scored AS (
    SELECT
        symbol, ts,
        (adx / $adx_trend + er / $er_trend) / 2.0 AS trend_score,
        cume_dist(ORDER BY rvol) OVER w AS vol_pct,
        count(*) OVER w AS vol_n
    FROM valid
    WINDOW w AS (PARTITION BY symbol ORDER BY ts ROWS BETWEEN $vol_window_bars - 1 PRECEDING AND CURRENT ROW)
),
raw AS (
    SELECT
        symbol, ts, trend_score, vol_pct,
        CASE
            WHEN vol_pct >= $vol_pct_threshold THEN 'volatile'
            WHEN trend_score >= 1.0 THEN 'trend'
            ELSE 'chop'
        END AS raw_label
    FROM scored
    WHERE vol_n >= $vol_min_bars
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
    SELECT *, row_number() OVER (PARTITION BY symbol, run_id ORDER BY ts) AS run_pos
    FROM runs
),
labelled AS (
    SELECT symbol, ts, trend_score, vol_pct,
        last_value(CASE WHEN run_pos >= $min_dwell_bars THEN raw_label END IGNORE NULLS)
            OVER (PARTITION BY symbol ORDER BY ts ROWS UNBOUNDED PRECEDING) AS regime
    FROM dwell
),
margins AS (
    SELECT *,
        (vol_pct - $vol_pct_threshold) / (1.0 - $vol_pct_threshold) AS m_volatile,
        ($vol_pct_threshold - vol_pct) / $vol_pct_threshold AS m_calm,
        trend_score - 1.0 AS m_trend
    FROM labelled
)
SELECT
    f.symbol,
    f.ts,
    m.regime,
    least(greatest(0.5 + 0.5 * CASE m.regime
        WHEN 'volatile' THEN m.m_volatile
        WHEN 'trend' THEN least(m.m_calm, m.m_trend)
        WHEN 'chop' THEN least(m.m_calm, -m.m_trend)
    END, 0.0), 1.0) AS regime_confidence,
    m.vol_pct,
    m.trend_score
FROM features AS f
LEFT JOIN margins AS m ON m.symbol = f.symbol AND m.ts = f.ts
ORDER BY f.symbol, f.ts
