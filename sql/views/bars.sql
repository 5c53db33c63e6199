-- purpose: all stored bars as one relation (temporary view, made on every connection)
-- params: none; reads the DuckDB variable bars_files (list of Parquet paths) set by the warehouse
-- grain: (symbol, interval, ts)
CREATE OR REPLACE TEMP VIEW bars AS
SELECT symbol, interval, ts, open, high, low, close, adj_close, volume, source, ingest_id
FROM read_parquet(getvariable('bars_files'), hive_partitioning = false, union_by_name = true)
