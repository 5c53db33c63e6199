-- purpose: DataSanity check bar_after_ingest (lookahead in stored data): bars stamped after the start of the
--          ingest that wrote them, i.e. data that claims a time later than when it was fetched
-- params: $interval (bar interval, e.g. 1d)
-- grain: one row per offending bar (symbol, ts); empty means pass
-- reads: bars (view or frame: symbol, interval, ts, ingest_id), ingest_log (ingest_id, symbol, interval, started_at)
SELECT
    b.symbol,
    b.ts,
    'stamped ' || strftime(b.ts, '%Y-%m-%d %H:%M:%S') || ' UTC, after ingest ' || b.ingest_id
        || ' started at ' || strftime(l.started_at, '%Y-%m-%d %H:%M:%S') || ' UTC' AS message,
    CAST(epoch_us(b.ts) - epoch_us(l.started_at) AS DOUBLE) / 1e6 AS observed
FROM bars AS b
JOIN ingest_log AS l
    ON l.ingest_id = b.ingest_id AND l.symbol = b.symbol AND l.interval = b.interval
WHERE b.interval = $interval
  AND b.ts > l.started_at
ORDER BY b.symbol, b.ts
