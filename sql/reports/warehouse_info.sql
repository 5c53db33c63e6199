-- purpose: what the warehouse holds: per interval and symbol, range, rows, version and last ingest
-- params: none
-- grain: (interval, symbol)
SELECT f.interval, f.symbol, f.first_ts, f.last_ts, f.rows, f.version, f.updated_at AS last_ingest,
       l.source AS last_source
FROM bar_files AS f
LEFT JOIN (
    SELECT interval, symbol, source,
           row_number() OVER (PARTITION BY interval, symbol ORDER BY finished_at DESC, ingest_id DESC) AS rn
    FROM ingest_log
    WHERE status IN ('stored', 'unchanged')
) AS l ON l.interval = f.interval AND l.symbol = f.symbol AND l.rn = 1
ORDER BY f.interval, f.symbol
