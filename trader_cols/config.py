"""Config: YAML/JSON files deep-merged in order, environment overrides, validated into frozen typed objects."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from trader_cols.errors import ConfigError
from trader_cols.sqlfiles import resource_dir

# ----------------------------------------------------------------------------- sections


def _rng(**bounds) -> dict:
    """Field metadata: numeric bounds checked at validation (gt, ge, lt, le)."""
    return {"bounds": bounds}


@dataclass(frozen=True)
class EngineConfig:
    """How orders are simulated: capital, costs, fill timing."""

    initial_capital: float = field(default=100_000.0, metadata=_rng(gt=0))
    commission_bps: float = field(default=1.0, metadata=_rng(ge=0))
    commission_per_share: float = field(default=0.0, metadata=_rng(ge=0))
    commission_min: float = field(default=0.0, metadata=_rng(ge=0))
    slippage_bps: float = field(default=2.0, metadata=_rng(ge=0))
    fractional_shares: bool = True
    fill_on: Literal["next_open", "close"] = "next_open"
    seed: int = 42
    jobs: int = field(default=1, metadata=_rng(ge=1))


@dataclass(frozen=True)
class WalkforwardConfig:
    """Fold scheme of a walkforward, in bars."""

    train_len: int = field(default=252, metadata=_rng(ge=2))
    test_len: int = field(default=63, metadata=_rng(ge=1))
    stride: int = field(default=63, metadata=_rng(ge=1))
    fold_length: int | None = field(default=None, metadata=_rng(ge=1))  # seed-system alias of test_len
    step_size: int | None = field(default=None, metadata=_rng(ge=1))  # seed-system alias of stride
    window: Literal["sliding", "expanding"] = "sliding"
    embargo_bars: int = field(default=0, metadata=_rng(ge=0))
    warmup_bars: int = field(default=250, metadata=_rng(ge=0))
    allow_truncated_final_fold: bool = False


@dataclass(frozen=True)
class YFinanceConfig:
    """yfinance fetch behaviour."""

    retries: int = field(default=3, metadata=_rng(ge=0))
    backoff_s: float = field(default=2.0, metadata=_rng(ge=0))
    batch_size: int = field(default=50, metadata=_rng(ge=1))
    timeout_s: float = field(default=20.0, metadata=_rng(gt=0))
    threads: bool = True


@dataclass(frozen=True)
class DataConfig:
    """Where bars come from and how they are read."""

    source: Literal["synthetic", "yfinance", "csv", "parquet"] = "synthetic"
    interval: str = "1d"
    start: str = "2015-01-01"
    end: str = "2024-12-31"
    auto_adjust: bool = True
    path: str | None = None
    # Zone of naive timestamps: --tz, else by source, else by asset class; IANA names. Never assumed UTC.
    source_tz: dict[str, str] = field(default_factory=dict)
    asset_class_tz: dict[str, str] = field(
        default_factory=lambda: {"equity": "America/New_York", "etf": "America/New_York", "crypto": "UTC"}
    )
    yfinance: YFinanceConfig = field(default_factory=YFinanceConfig)


@dataclass(frozen=True)
class WarehouseConfig:
    """The embedded warehouse: folder and writer lock."""

    path: str = "warehouse"
    lock_timeout_s: float = field(default=30.0, metadata=_rng(ge=0))


@dataclass(frozen=True)
class RiskConfig:
    """Risk limits enforced by the kernel every bar and by the paper loop before every order. Fractions, not %."""

    max_position_pct: float = field(default=0.25, metadata=_rng(gt=0, le=1))
    max_gross_leverage: float = field(default=1.0, metadata=_rng(gt=0, le=10))
    daily_loss_cut_pct: float = field(default=0.03, metadata=_rng(gt=0, lt=1))
    max_drawdown_pct: float = field(default=0.20, metadata=_rng(gt=0, lt=1))
    stop_loss_pct: float | None = field(default=0.10, metadata=_rng(gt=0, lt=1))
    cooloff_bars: int = field(default=0, metadata=_rng(ge=0))
    vol_target: float = field(default=0.15, metadata=_rng(gt=0, le=5))
    vol_lookback_bars: int = field(default=20, metadata=_rng(ge=2))
    allow_short: bool = False
    hold_on_nan: bool = True


@dataclass(frozen=True)
class ScoreWeights:
    """Level-2 composite score weights."""

    cagr: float = field(default=0.3, metadata=_rng(ge=0))
    sharpe: float = field(default=0.4, metadata=_rng(ge=0))
    win_rate: float = field(default=0.15, metadata=_rng(ge=0))
    avg_trade: float = field(default=0.15, metadata=_rng(ge=0))


@dataclass(frozen=True)
class ComposerConfig:
    """Regime-aware blending of strategies."""

    strategies: tuple[str, ...] = ("trend", "mean_reversion", "breakout", "vol_momentum")
    temperature: float = field(default=1.0, metadata=_rng(gt=0))
    trend_bias: float = field(default=1.0, metadata=_rng(ge=0))
    chop_bias: float = field(default=1.0, metadata=_rng(ge=0))
    min_confidence: float = field(default=0.05, metadata=_rng(ge=0, lt=1))
    hold_on_nan: bool = True
    min_history_bars: int = field(default=60, metadata=_rng(ge=0))
    score_weights: ScoreWeights = field(default_factory=ScoreWeights)


def _default_indicators() -> dict[str, tuple[dict[str, float], ...]]:
    """Every indicator once at its usual window, returns at 1, 5 and 20 bars (= features.DEFAULT_SPECS)."""
    w = lambda n: {"window": float(n)}  # noqa: E731
    return {
        "ret": (w(1), w(5), w(20)), "log_ret": (w(1),), "roc": (w(10),), "mom": (w(10),), "sma": (w(20),),
        "ema": (w(20),), "kama": (w(10),), "macd": ({"fast": 12.0, "slow": 26.0, "signal": 9.0},),
        "adx": (w(14),), "aroon": (w(14),), "linreg_slope": (w(14),), "er": (w(10),), "rsi": (w(14),),
        "stoch": ({"k": 14.0, "smooth": 3.0, "d": 3.0},), "willr": (w(14),), "cci": (w(20),), "mfi": (w(14),),
        "atr": (w(14),), "natr": (w(14),), "bbands": ({"window": 20.0, "k": 2.0},),
        "keltner": ({"window": 20.0, "atr_window": 10.0, "mult": 2.0},), "donchian": (w(20),), "rvol": (w(20),),
        "parkinson": (w(20),), "garman_klass": (w(20),), "zscore": (w(20),), "obv": ({},), "vwap": (w(20),),
    }


@dataclass(frozen=True)
class FeaturesConfig:
    """Which indicators are on and their params: name -> list of param sets (docs/features.md)."""

    indicators: dict[str, tuple[dict[str, float], ...]] = field(default_factory=_default_indicators)


@dataclass(frozen=True)
class RegimesConfig:
    """Regime labeller thresholds (sql/features/regimes.sql)."""

    adx_window: int = field(default=14, metadata=_rng(ge=2))
    er_window: int = field(default=20, metadata=_rng(ge=2))
    vol_window: int = field(default=20, metadata=_rng(ge=2))
    adx_trend: float = field(default=20.0, metadata=_rng(gt=0, le=100))
    er_trend: float = field(default=0.1, metadata=_rng(gt=0, le=1))
    vol_lookback_bars: int = field(default=252, metadata=_rng(ge=20))
    vol_pct_threshold: float = field(default=0.7, metadata=_rng(gt=0, lt=1))
    min_dwell_bars: int = field(default=3, metadata=_rng(ge=1))


@dataclass(frozen=True)
class SanityProfile:
    """Thresholds of one DataSanity profile (defaults = the shipped `relaxed` profile; see docs/sanity.md)."""

    min_history_bars: int = field(default=20, metadata=_rng(ge=0))
    max_na_fraction: float = field(default=0.05, metadata=_rng(ge=0, le=1))
    max_gap_bars: int = field(default=10, metadata=_rng(ge=1))
    max_abs_return: float = field(default=0.6, metadata=_rng(gt=0))
    sigma_k: float = field(default=12.0, metadata=_rng(gt=0))
    sigma_window_bars: int = field(default=60, metadata=_rng(ge=2))
    unit_error_factor: float = field(default=50.0, metadata=_rng(gt=1))
    # Split ratios > 1; reverse splits (1/r) are checked too.
    split_ratios: tuple[float, ...] = field(default=(1.5, 2.0, 3.0, 4.0, 5.0, 10.0), metadata=_rng(gt=1))
    split_tolerance: float = field(default=0.05, metadata=_rng(gt=0, lt=1))
    stale_run_bars: int = field(default=10, metadata=_rng(ge=2))
    zero_volume_run_bars: int = field(default=10, metadata=_rng(ge=1))
    allow_clip_prices: bool = True
    allow_drop_duplicates: bool = True
    allow_resolve_duplicate_ts: bool = True
    ffill_max_bars: int = field(default=3, metadata=_rng(ge=0))
    allow_drop_missing_close: bool = True
    allow_drop_incomplete_bars: bool = True


def _shipped_sanity_profiles() -> dict[str, SanityProfile]:
    """The `strict` and `relaxed` profiles exactly as config/data_sanity.yaml ships them."""
    strict = SanityProfile(
        min_history_bars=60, max_na_fraction=0.0, max_gap_bars=4, max_abs_return=0.35, sigma_k=8.0,
        split_tolerance=0.03, stale_run_bars=5, zero_volume_run_bars=3, allow_clip_prices=False,
        allow_resolve_duplicate_ts=False, ffill_max_bars=0, allow_drop_missing_close=False,
    )
    return {"strict": strict, "relaxed": SanityProfile()}


@dataclass(frozen=True)
class DataSanityConfig:
    """Which profile and mode DataSanity runs with; the profiles themselves live in config/data_sanity.yaml."""

    profile: str = "relaxed"
    mode: Literal["enforce", "warn", "off"] = "warn"
    profiles: dict[str, SanityProfile] = field(default_factory=_shipped_sanity_profiles)

    def active(self) -> SanityProfile:
        """The thresholds of the selected profile."""
        return self.profiles[self.profile]


@dataclass(frozen=True)
class IBKRConfig:
    """Interactive Brokers connection."""

    host: str = "127.0.0.1"
    port: int = field(default=4002, metadata=_rng(ge=1, le=65535))
    client_id: int = field(default=7, metadata=_rng(ge=0))
    paper_trading: bool = True
    timeout_s: float = field(default=10.0, metadata=_rng(gt=0))


@dataclass(frozen=True)
class GateConfig:
    """Go/no-go thresholds on the latest out-of-sample walkforward."""

    min_sharpe: float = 0.0
    max_drawdown_pct: float = field(default=0.35, metadata=_rng(gt=0, lt=1))
    min_trades: int = field(default=10, metadata=_rng(ge=0))


@dataclass(frozen=True)
class PaperConfig:
    """The paper-trading loop."""

    broker: Literal["sim", "ibkr"] = "sim"
    every: Literal["1d", "1h", "15m"] = "1d"
    ibkr: IBKRConfig = field(default_factory=IBKRConfig)
    gate: GateConfig = field(default_factory=GateConfig)


@dataclass(frozen=True)
class DiscordConfig:
    """Discord webhook alerts. The URL is a secret: never logged."""

    enabled: bool = False
    webhook_url: str | None = field(default=None, repr=False)  # a secret: kept out of repr() and logs
    max_retries: int = field(default=3, metadata=_rng(ge=0))
    max_sleep_s: float = field(default=60.0, metadata=_rng(ge=0))


@dataclass(frozen=True)
class AlertsConfig:
    """Where alerts go."""

    discord: DiscordConfig = field(default_factory=DiscordConfig)


@dataclass(frozen=True)
class LoggingConfig:
    """Log level and the optional rotating log file."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str | None = None
    rotation: str = "10MB"  # size ("10MB", "500KB") or "daily"
    backups: int = field(default=5, metadata=_rng(ge=0))


@dataclass(frozen=True)
class Config:
    """The whole validated config. Components receive their own section, never this object."""

    engine: EngineConfig = field(default_factory=EngineConfig)
    walkforward: WalkforwardConfig = field(default_factory=WalkforwardConfig)
    data: DataConfig = field(default_factory=DataConfig)
    warehouse: WarehouseConfig = field(default_factory=WarehouseConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    composer: ComposerConfig = field(default_factory=ComposerConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    regimes: RegimesConfig = field(default_factory=RegimesConfig)
    tickers: tuple[str, ...] = ("SPY", "QQQ", "BTC-USD")
    asset_classes: dict[str, str] = field(default_factory=dict)  # symbol -> equity | etf | crypto overrides
    data_sanity: DataSanityConfig = field(default_factory=DataSanityConfig)
    paper: PaperConfig = field(default_factory=PaperConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config plus where each leaf value came from (file path, `env:NAME` or `default`)."""

    config: Config
    origins: dict[str, str]
    files: tuple[str, ...]

    @property
    def run_hash(self) -> str:
        """Hash of the canonical config: equal configs give equal hashes, whatever file or order they came from."""
        return config_hash(self.config)


# ----------------------------------------------------------------------------- environment overrides

ENV_OVERRIDES: dict[str, str] = {
    "MAX_POSITION_PCT": "risk.max_position_pct",
    "MAX_GROSS_LEVERAGE": "risk.max_gross_leverage",
    "DAILY_LOSS_CUT_PCT": "risk.daily_loss_cut_pct",
    "LOG_LEVEL": "logging.level",
    "LOG_FILE_ROTATION": "logging.rotation",
    "IBKR_PAPER_TRADING": "paper.ibkr.paper_trading",
    "IBKR_HOST": "paper.ibkr.host",
    "IBKR_PORT": "paper.ibkr.port",
    "IBKR_CLIENT_ID": "paper.ibkr.client_id",
    "DISCORD_ENABLED": "alerts.discord.enabled",
    "DISCORD_WEBHOOK_URL": "alerts.discord.webhook_url",
    "TCOLS_WAREHOUSE": "warehouse.path",
}
SECRET_KEYS = frozenset({"alerts.discord.webhook_url"})


# ----------------------------------------------------------------------------- loading


def config_dir() -> Path:
    """The shipped config/ folder (packaged copy or source checkout)."""
    return resource_dir("config")


def profile_paths(profile: str | None = None, extra: Sequence[str | Path] = ()) -> list[Path]:
    """base.yaml, data_sanity.yaml (the sanity profiles), then `config/<profile>.yaml`, then extra files."""
    base = config_dir()
    paths = [base / "base.yaml", base / "data_sanity.yaml"]
    if profile:
        p = base / f"{profile}.yaml"
        if not p.is_file():
            known = sorted(q.stem for q in base.glob("*.yaml") if q.stem != "base")
            hint = _did_you_mean(profile, known)
            raise ConfigError(f"no profile {profile!r}{hint}; known: {', '.join(known)}", file=str(p))
        paths.append(p)
    paths.extend(Path(e) for e in extra)
    return paths


def read_config_file(path: str | Path) -> dict:
    """Parse one YAML or JSON config file into a mapping; errors name the file (and line/column)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("file not found", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=str(path)) from exc
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=str(path)) from exc
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"invalid YAML{where}: {exc.problem or exc.context}", file=str(path)) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"invalid YAML: {exc}", file=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"top level must be a mapping, found {type(data).__name__}", file=str(path))
    return data


def deep_merge(base: dict, over: Mapping, origins: dict[str, str], source: str, prefix: str = "") -> dict:
    """Merge `over` into a copy of `base`: mappings merge recursively, anything else (lists too) replaces."""
    out = dict(base)
    for key, value in over.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(dict(out[key]), value, origins, source, path + ".")
        else:
            out[key] = value
            for k in [k for k in origins if k == path or k.startswith(path + ".")]:
                del origins[k]
            _record_origins(value, path, source, origins)
    return out


def _record_origins(value: Any, path: str, source: str, origins: dict[str, str]) -> None:
    if isinstance(value, Mapping) and value:
        for k, v in value.items():
            _record_origins(v, f"{path}.{k}", source, origins)
    else:
        origins[path] = source


def load_config(
    paths: Sequence[str | Path] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedConfig:
    """Load, merge and validate config files (default: base + data_sanity), then env, then explicit overrides.

    `overrides` maps dotted keys to values (what CLI flags set); they win over everything.
    """
    paths = list(paths) if paths is not None else profile_paths()
    env = os.environ if env is None else env
    merged: dict = {}
    origins: dict[str, str] = {}
    for p in paths:
        merged = deep_merge(merged, read_config_file(p), origins, str(p))
    for var, dotted in ENV_OVERRIDES.items():
        if var in env and env[var] != "":
            merged = _set_dotted(merged, dotted, _env_value(var, dotted, env[var]), origins, f"env:{var}")
    for dotted, value in (overrides or {}).items():
        if value is not None:
            merged = _set_dotted(merged, dotted, value, origins, "cli")
    file_of = _file_lookup(origins)
    config = _build(Config, merged, "", file_of)
    config = _cross_check(config, file_of)
    all_origins = {k: origins.get(k, "default") for k in _leaf_paths(config)}
    return LoadedConfig(config=config, origins=all_origins, files=tuple(str(p) for p in paths))


def _set_dotted(merged: dict, dotted: str, value: Any, origins: dict[str, str], source: str) -> dict:
    parts = dotted.split(".")
    nested: Any = value
    for part in reversed(parts):
        nested = {part: nested}
    return deep_merge(merged, nested, origins, source)


def _env_value(var: str, dotted: str, raw: str) -> Any:
    hint = _field_type(dotted)
    try:
        return _parse_scalar(raw, hint)
    except ValueError as exc:
        raise ConfigError(f"environment variable {var}={raw!r}: {exc}", key=dotted) from exc


def _field_type(dotted: str) -> Any:
    cls: Any = Config
    hint: Any = None
    for part in dotted.split("."):
        hint = typing.get_type_hints(cls)[part]
        cls = hint
    return hint


def _parse_scalar(raw: str, hint: Any) -> Any:
    base = _strip_optional(hint)
    if base is bool:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected a boolean (true/false, 1/0, yes/no)")
    if base is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError("expected an integer") from None
    if base is float:
        try:
            return float(raw)
        except ValueError:
            raise ValueError("expected a number") from None
    return raw


def _file_lookup(origins: dict[str, str]):
    def file_of(key: str) -> str | None:
        while key:
            if key in origins:
                return origins[key]
            key = key.rpartition(".")[0]
        return None

    return file_of


# ----------------------------------------------------------------------------- validation


def _strip_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _build(cls: type, data: Any, prefix: str, file_of) -> Any:
    where = prefix.rstrip(".") or "(top level)"
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping, found {type(data).__name__}", file=file_of(where), key=where)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = f"{prefix}{unknown[0]}"
        raise ConfigError(
            f"unknown key{_did_you_mean(str(unknown[0]), list(fields))}; known keys here: {', '.join(fields)}",
            file=file_of(key),
            key=key,
        )
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            key = f"{prefix}{name}"
            kwargs[name] = _convert(hints[name], data[name], key, file_of, f.metadata.get("bounds", {}))
    return cls(**kwargs)


def _type_name(hint: Any) -> str:
    base = _strip_optional(hint)
    if typing.get_origin(base) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(base))
    return getattr(base, "__name__", str(base))


def _convert(hint: Any, value: Any, key: str, file_of, bounds: Mapping[str, float]) -> Any:
    def fail(msg: str) -> ConfigError:
        return ConfigError(msg, file=file_of(key), key=key)

    optional = _strip_optional(hint) is not hint
    if value is None:
        if optional:
            return None
        raise fail(f"must not be empty (expected {_type_name(hint)})")
    base = _strip_optional(hint)
    origin = typing.get_origin(base)
    if dataclasses.is_dataclass(base):
        return _build(base, value, key + ".", file_of)
    if origin is Literal:
        allowed = typing.get_args(base)
        if value not in allowed:
            hint_txt = _did_you_mean(str(value), [str(a) for a in allowed])
            raise fail(f"{value!r} is not allowed{hint_txt}; expected {_type_name(base)}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise fail(f"expected a list, found {type(value).__name__} {value!r}")
        item = typing.get_args(base)[0]
        return tuple(_convert(item, v, f"{key}[{i}]", file_of, bounds) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise fail(f"expected a mapping, found {type(value).__name__}")
        kt, vt = typing.get_args(base)
        return {str(k): _convert(vt, v, f"{key}.{k}", file_of, bounds) for k, v in value.items()}
    if base is bool:
        if not isinstance(value, bool):
            raise fail(f"expected true or false, found {value!r}")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"expected an integer, found {value!r}")
        _check_bounds(value, bounds, fail)
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(f"expected a number, found {value!r}")
        _check_bounds(float(value), bounds, fail)
        return float(value)
    if base is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise fail(f"expected a string, found {value!r}")
        return str(value)
    raise fail(f"unsupported config type {base!r}")  # a bug in the dataclass declarations, not user input


def _check_bounds(value: float, bounds: Mapping[str, float], fail) -> None:
    ops = {"gt": (lambda v, b: v > b, ">"), "ge": (lambda v, b: v >= b, ">="),
           "lt": (lambda v, b: v < b, "<"), "le": (lambda v, b: v <= b, "<=")}
    for name, bound in bounds.items():
        ok, sym = ops[name]
        if not ok(value, bound):
            rule = " and ".join(f"{ops[n][1]} {b:g}" for n, b in bounds.items())
            raise fail(f"{value!r} is out of range: must be {rule}")


def _cross_check(config: Config, file_of) -> Config:
    """Rules that span fields; also folds the seed-system aliases fold_length/step_size into test_len/stride."""
    ds = config.data_sanity
    if ds.profile not in ds.profiles:
        raise ConfigError(
            f"profile {ds.profile!r} is not defined{_did_you_mean(ds.profile, list(ds.profiles))}; "
            f"defined: {', '.join(sorted(ds.profiles))}",
            file=file_of("data_sanity.profile"),
            key="data_sanity.profile",
        )
    wf = config.walkforward
    if wf.fold_length is not None or wf.step_size is not None:
        wf = dataclasses.replace(
            wf,
            test_len=wf.fold_length if wf.fold_length is not None else wf.test_len,
            stride=wf.step_size if wf.step_size is not None else wf.stride,
        )
        config = dataclasses.replace(config, walkforward=wf)
    for sym, cls in config.asset_classes.items():
        if cls not in ("equity", "etf", "crypto"):
            raise ConfigError(
                f"{cls!r} is not an asset class{_did_you_mean(cls, ['equity', 'etf', 'crypto'])}; "
                "expected equity, etf or crypto",
                file=file_of(f"asset_classes.{sym}"),
                key=f"asset_classes.{sym}",
            )
    return config


# ----------------------------------------------------------------------------- views of a config


def to_dict(obj: Any) -> Any:
    """A plain, JSON-able view of a config object (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def redacted(obj: Any) -> dict:
    """`to_dict` with secrets replaced by '***'; safe to log, print or store."""
    data = to_dict(obj)
    for dotted in SECRET_KEYS:
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and node.get(parts[-1]):
            node[parts[-1]] = "***"
    return data


def config_hash(config: Config) -> str:
    """sha256 (first 16 hex) of the canonical JSON of the config, secrets excluded."""
    canon = json.dumps(redacted(config), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def _leaf_paths(obj: Any, prefix: str = "") -> list[str]:
    if dataclasses.is_dataclass(obj):
        out: list[str] = []
        for f in dataclasses.fields(obj):
            out += _leaf_paths(getattr(obj, f.name), f"{prefix}{f.name}.")
        return out
    if isinstance(obj, dict) and obj:
        out = []
        for k, v in obj.items():
            out += _leaf_paths(v, f"{prefix}{k}.")
        return out
    return [prefix.rstrip(".")]


def describe(loaded: LoadedConfig) -> str:
    """The merged config as YAML-like text, each leaf followed by where it came from; secrets redacted."""
    lines: list[str] = []

    def walk(node: Any, prefix: str, indent: int) -> None:
        for k, v in node.items():
            path = f"{prefix}{k}"
            pad = "  " * indent
            if isinstance(v, dict) and v:
                lines.append(f"{pad}{k}:")
                walk(v, path + ".", indent + 1)
            else:
                shown = json.dumps(v) if not isinstance(v, str) else yaml.safe_dump(v).strip().removesuffix("...").strip()
                lines.append(f"{pad}{k}: {shown}  # {loaded.origins.get(path, 'default')}")

    walk(redacted(loaded.config), "", 0)
    return "\n".join(lines)
