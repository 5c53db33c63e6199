"""Fixtures for the broker tests: the loopback fake gateway and a guard that fails on ib_async decoder errors."""

from __future__ import annotations

import logging

import pytest

from .fake_gateway import FakeGateway

# ib_async logs (and swallows) every message it cannot decode; a layout mistake in the fake shows up only here.
DECODER_LOGGERS = ("ib_async.decoder", "ib_async.Decoder", "ib_insync.decoder", "ib_insync.Decoder")
PRICES = {"SPY": 450.0, "QQQ": 400.0, "AAPL": 190.0, "BTC": 60_000.0}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_decoder_errors():
    """Fail the test if ib_async's decoder logged an ERROR (decode errors are logged, not raised)."""
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in DECODER_LOGGERS]
    for lg in loggers:
        lg.addHandler(handler)
    yield handler
    for lg in loggers:
        lg.removeHandler(handler)
    if handler.records:
        pytest.fail("ib_async decoder errors:\n" + "\n".join(r.getMessage() for r in handler.records))


@pytest.fixture
def fake():
    """A started fake gateway (paper account DU1234567) with prices for SPY, QQQ, AAPL and BTC."""
    gw = FakeGateway(prices=PRICES).start()
    yield gw
    gw.stop()
