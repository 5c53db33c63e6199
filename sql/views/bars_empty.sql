-- purpose: the bars view of a warehouse that holds no bars yet (same columns, no rows)
-- params: none
-- grain: (symbol, interval, ts)
CREATE OR REPLACE TEMP VIEW bars AS
SELECT CAST(NULL AS VARCHAR) AS symbol, CAST(NULL AS VARCHAR) AS interval, CAST(NULL AS TIMESTAMPTZ) AS ts,
       CAST(NULL AS DOUBLE) AS open, CAST(NULL AS DOUBLE) AS high, CAST(NULL AS DOUBLE) AS low,
       CAST(NULL AS DOUBLE) AS close, CAST(NULL AS DOUBLE) AS adj_close, CAST(NULL AS DOUBLE) AS volume,
       CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS ingest_id
WHERE false
