"""DataSanity: checks with stable codes, audited repairs and the lookahead tests (data and prefix truncation)."""

from trader_cols.sanity.checks import findings_from_rows
from trader_cols.sanity.codes import CHECKS, Check
from trader_cols.sanity.lookahead import assert_causal, find_lookahead
from trader_cols.sanity.report import SanityReport, raise_on_errors, summarise
from trader_cols.sanity.validate import MODES, validate

__all__ = [
    "CHECKS",
    "MODES",
    "Check",
    "SanityReport",
    "assert_causal",
    "find_lookahead",
    "findings_from_rows",
    "raise_on_errors",
    "summarise",
    "validate",
]
