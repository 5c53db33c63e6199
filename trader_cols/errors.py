"""The exception hierarchy of trader_cols: every failure a user can cause, with what it names and its CLI exit code."""

from __future__ import annotations

from collections.abc import Sequence

# Exit codes are part of the CLI contract (documented in README "Exit codes").
EXIT_CODES = {
    "TraderColsError": 1,
    "ConfigError": 3,
    "DataSourceError": 4,
    "DataSanityError": 5,
    "WarehouseError": 6,
    "LookaheadError": 7,
    "BrokerError": 8,
    "OrderRejected": 9,
    "PartialFailure": 10,
}


class TraderColsError(Exception):
    """Base of every error trader_cols raises on purpose; `str(err)` is one line fit for a terminal."""

    exit_code = EXIT_CODES["TraderColsError"]

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigError(TraderColsError):
    """A config file, key, value or environment override is wrong. Names the file and the key path."""

    exit_code = EXIT_CODES["ConfigError"]

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        where = ", ".join(p for p in (f"file {file}" if file else "", f"key {key}" if key else "") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.key = key


class DataSourceError(TraderColsError):
    """A source could not deliver bars: unreadable file, missing columns, unparsable value, unknown symbol."""

    exit_code = EXIT_CODES["DataSourceError"]

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        symbol: str | None = None,
        file: str | None = None,
        row: int | None = None,
    ):
        parts = [
            f"source {source}" if source else "",
            f"symbol {symbol}" if symbol else "",
            f"file {file}" if file else "",
            f"row {row}" if row is not None else "",
        ]
        where = ", ".join(p for p in parts if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.source, self.symbol, self.file, self.row = source, symbol, file, row


class DataSanityError(TraderColsError):
    """Data failed validation in enforce mode; `findings` holds the full findings frame."""

    exit_code = EXIT_CODES["DataSanityError"]

    def __init__(self, message: str, *, findings=None, symbol: str | None = None):
        super().__init__(message)
        self.findings = findings
        self.symbol = symbol


class WarehouseError(TraderColsError):
    """The warehouse cannot be opened, migrated, locked or written; names its path."""

    exit_code = EXIT_CODES["WarehouseError"]

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(f"warehouse {path}: {message}" if path else message)
        self.path = path


class LookaheadError(TraderColsError):
    """A feature, label or signal read the future: names the columns and the first cutoff that showed it."""

    exit_code = EXIT_CODES["LookaheadError"]

    def __init__(self, message: str, *, columns: Sequence[str] = (), cutoff=None):
        super().__init__(message)
        self.columns = list(columns)
        self.cutoff = cutoff


class BrokerError(TraderColsError):
    """A broker is unreachable, refuses us, or answers something we cannot reconcile."""

    exit_code = EXIT_CODES["BrokerError"]

    def __init__(self, message: str, *, broker: str | None = None, code: int | None = None):
        where = f"broker {broker}" + (f" (code {code})" if code is not None else "") if broker else ""
        super().__init__(f"{where}: {message}" if where else message)
        self.broker = broker
        self.code = code


class OrderRejected(BrokerError):
    """An order was refused by a risk check or by the broker; names the symbol and the reason."""

    exit_code = EXIT_CODES["OrderRejected"]

    def __init__(self, message: str, *, symbol: str | None = None, broker: str | None = None, code: int | None = None):
        super().__init__(f"symbol {symbol}: {message}" if symbol else message, broker=broker, code=code)
        self.symbol = symbol


class PartialFailure(TraderColsError):
    """Some items of a batch (symbols of an ingest, say) failed while the others landed.

    `failures` maps the item (symbol) to its error; `result` holds what succeeded.
    """

    exit_code = EXIT_CODES["PartialFailure"]

    def __init__(self, message: str, *, failures: dict[str, TraderColsError], result=None):
        super().__init__(message)
        self.failures = failures
        self.result = result
