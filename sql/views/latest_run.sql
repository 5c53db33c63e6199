-- purpose: the newest finished run's summary (the common first question: how did the last run do?)
-- params: none
-- grain: one row
CREATE OR REPLACE TEMP VIEW latest_run AS
SELECT * FROM run_summary WHERE status = 'done' ORDER BY started_at DESC, run_id LIMIT 1
