"""Fixtures for the broker tests: the loopback fake gateway and a guard that fails on ib_async decoder errors."""

from __future__ import annotations

import pytest

from .fake_gateway import FakeGateway, decoder_error_guard

PRICES = {"SPY": 450.0, "QQQ": 400.0, "AAPL": 190.0, "BTC": 60_000.0}


@pytest.fixture(autouse=True)
def no_decoder_errors():
    """Fail the test if ib_async's decoder logged an ERROR (decode errors are logged, not raised)."""
    with decoder_error_guard() as handler:
        yield handler


@pytest.fixture
def fake():
    """A started fake gateway (paper account DU1234567) with prices for SPY, QQQ, AAPL and BTC."""
    gw = FakeGateway(prices=PRICES).start()
    yield gw
    gw.stop()
