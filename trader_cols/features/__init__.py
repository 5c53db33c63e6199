"""The 28 indicators as lazy per-symbol Polars computations, their specs and the compute entry point."""

from trader_cols.features.compute import compute_features
from trader_cols.features.specs import (
    DEFAULT_SPECS,
    INDICATORS,
    STABLE_TOL,
    FeatureSpec,
    check_unique,
    specs_from_config,
)

__all__ = [
    "DEFAULT_SPECS",
    "INDICATORS",
    "STABLE_TOL",
    "FeatureSpec",
    "check_unique",
    "compute_features",
    "specs_from_config",
]
