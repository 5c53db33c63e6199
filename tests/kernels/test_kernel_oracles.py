"""Oracle tests: our simulator against vectorbt (multi-symbol, shared cash) and backtesting.py (one symbol).

Only scenarios both sides can express: no risk limits beyond vectorbt's cash rule (leverage 1 with long-only
targets, or limits that never bind), commission in bps of the fill value, slippage in bps of the reference price.
Mapping (also in docs/kernel.md):
  vectorbt  Portfolio.from_orders(close=close, price=open, size=target.shift(1), size_type="targetpercent",
            fees=bps/1e4, slippage=bps/1e4, init_cash=capital, group_by=True, cash_sharing=True,
            call_seq="auto", direction="both", size_granularity=1 for whole shares, engine="rust");
            close fills: price=close and the targets unshifted.
  backtesting.py  Backtest(commission=bps/1e4, spread=0, trade_on_close=False, exclusive_orders=False);
            all-in entry = buy(size=1 - 1e-10) i.e. floor(cash / (open * (1 + commission))), exit =
            position.close(); our side: target 1/0, whole shares, max_gross_leverage=1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from trader_cols.kernels.records import SimParams
from trader_cols.sim import simulate

# vectorbt 1.2 and backtesting.py 0.6.6 call pandas APIs deprecated in pandas 3.1 (DataFrame.rename(inplace=),
# DatetimeIndex.dayofweek): silence exactly those, raised from inside the oracles, not from our code.
pytestmark = [
    pytest.mark.oracle,
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning:vectorbt.*"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning:backtesting.*"),
]

UTC = pl.Datetime("us", "UTC")
RTOL = 1e-9


def random_ohlc(seed: int, n_bars: int, n: int):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (n_bars, n)), axis=0))
    open_ = np.vstack([close[:1], close[:-1]]) * np.exp(rng.normal(0, 0.01, (n_bars, n)))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, (n_bars, n)))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, (n_bars, n)))
    return open_, high, low, close


def frames(ohlc, target: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame, pd.DatetimeIndex]:
    open_, high, low, close = ohlc
    n_bars, n = close.shape
    index = pd.date_range("2021-01-01", periods=n_bars, freq="D")
    symbols = [f"S{j:02d}" for j in range(n)]
    ts = pl.Series(index.to_numpy()).dt.replace_time_zone("UTC").cast(UTC)
    bars = pl.DataFrame(
        {
            "symbol": symbols * n_bars,
            "ts": np.repeat(ts.to_numpy(), n),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
        }
    ).with_columns(pl.col("ts").cast(UTC))
    targets = bars.select("symbol", "ts").with_columns(target_weight=pl.Series(target.ravel()))
    return bars, targets, index


def run_vectorbt(ohlc, target, index, params: SimParams):
    import vectorbt as vbt

    open_, _, _, close = ohlc
    size = pd.DataFrame(target, index=index)
    price = pd.DataFrame(close if params.fill_on_close else open_, index=index)
    if not params.fill_on_close:
        size = size.shift(1)
    return vbt.Portfolio.from_orders(
        close=pd.DataFrame(close, index=index),
        size=size,
        size_type="targetpercent",
        price=price,
        fees=params.commission_bps * 1e-4,
        slippage=params.slippage_bps * 1e-4,
        size_granularity=1.0 if params.lot_size == 1.0 else np.nan,
        init_cash=params.initial_capital,
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
        direction="both",
        engine="rust",
        freq="1D",
    )


def assert_same_as_vectorbt(ohlc, target, params: SimParams) -> None:
    bars, targets, index = frames(ohlc, target)
    ours = simulate(bars, targets, params)
    pf = run_vectorbt(ohlc, target, index, params)
    np.testing.assert_allclose(ours.equity["equity"].to_numpy(), pf.value().to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(
        ours.equity["cash"].to_numpy(),
        pf.cash().to_numpy(),
        rtol=RTOL,
        atol=RTOL * params.initial_capital,
    )
    theirs = pf.orders.records_readable
    mine = ours.fills.sort("ts", "symbol")
    assert mine.height == len(theirs) > 0
    theirs = theirs.assign(symbol=[f"S{c:02d}" for c in theirs["Column"]]).sort_values(
        ["Timestamp", "symbol"]
    )
    assert mine["symbol"].to_list() == theirs["symbol"].tolist()
    naive_ts = mine["ts"].dt.replace_time_zone(None).cast(pl.Datetime("ns")).to_numpy()
    assert (naive_ts == theirs["Timestamp"].to_numpy().astype("datetime64[ns]")).all()
    assert mine["side"].to_list() == theirs["Side"].str.lower().tolist()
    for ours_col, their_col in (("qty", "Size"), ("price", "Price"), ("fees", "Fees")):
        np.testing.assert_allclose(
            mine[ours_col].to_numpy(), theirs[their_col].to_numpy(), rtol=RTOL, err_msg=ours_col
        )


def test_long_short_portfolio_matches_vectorbt_next_open():
    ohlc = random_ohlc(1, 250, 6)
    rng = np.random.default_rng(2)
    target = rng.uniform(-0.15, 0.15, (250, 6))  # |sum| <= 0.9: vectorbt's cash rule never binds
    target[rng.random(target.shape) < 0.2] = 0.0
    params = SimParams(initial_capital=100_000.0, commission_bps=10.0, slippage_bps=5.0)
    assert_same_as_vectorbt(ohlc, target, params)


def test_close_fills_match_vectorbt_at_the_close():
    ohlc = random_ohlc(3, 200, 4)
    target = np.random.default_rng(4).uniform(-0.2, 0.2, (200, 4))
    params = SimParams(
        initial_capital=50_000.0, commission_bps=3.0, slippage_bps=2.0, fill_on_close=True
    )
    assert_same_as_vectorbt(ohlc, target, params)


def test_whole_shares_and_nan_holds_match_vectorbt():
    ohlc = random_ohlc(5, 200, 5)
    rng = np.random.default_rng(6)
    target = rng.uniform(0.0, 0.18, (200, 5))
    target[rng.random(target.shape) < 0.3] = np.nan  # ours: hold; vectorbt: a NaN size is no order
    params = SimParams(
        initial_capital=250_000.0,
        commission_bps=8.0,
        slippage_bps=3.0,
        lot_size=1.0,
        max_gross_leverage=1.0,
        allow_short=False,
    )
    assert_same_as_vectorbt(ohlc, target, params)


def test_all_in_entries_clipped_by_cash_match_vectorbt():
    """Target 100 % with fees: every entry is clipped to what cash can fund, the same way on both sides."""
    ohlc = random_ohlc(7, 300, 1)
    rng = np.random.default_rng(8)
    regime = np.repeat(rng.random(30) < 0.5, 10).astype(np.float64)[:, None]
    params = SimParams(
        initial_capital=10_000.0,
        commission_bps=10.0,
        slippage_bps=4.0,
        max_gross_leverage=1.0,
        allow_short=False,
    )
    assert_same_as_vectorbt(ohlc, regime, params)
    bars, targets, _ = frames(ohlc, regime)
    assert "funding_clip" in simulate(bars, targets, params).fills["reason"].to_list()


def test_single_symbol_long_flat_matches_backtesting_py():
    from backtesting import Backtest, Strategy

    ohlc = random_ohlc(9, 300, 1)
    rng = np.random.default_rng(10)
    signal = np.repeat(rng.random(25) < 0.6, 12)[:300].astype(np.float64)
    signal[-2:] = 0.0  # flat at the end, so no trade is left open
    commission = 0.001
    open_, high, low, close = (a[:, 0] for a in ohlc)
    index = pd.date_range("2021-01-01", periods=300, freq="D")
    data = pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close}, index=index)

    class LongFlat(Strategy):
        def init(self):
            pass

        def next(self):
            i = len(self.data) - 1
            if signal[i] > 0 and not self.position:
                self.buy(size=1 - 1e-10)
            elif signal[i] == 0 and self.position:
                self.position.close()

    bt = Backtest(
        data, LongFlat, cash=10_000, commission=commission, spread=0.0, trade_on_close=False
    )
    stats = bt.run()

    params = SimParams(
        initial_capital=10_000.0,
        commission_bps=commission * 1e4,
        lot_size=1.0,
        max_gross_leverage=1.0,
        allow_short=False,
    )
    bars, targets, _ = frames(ohlc, signal[:, None])
    ours = simulate(bars, targets, params)
    np.testing.assert_allclose(
        ours.equity["equity"].to_numpy(), stats._equity_curve["Equity"].to_numpy(), rtol=RTOL
    )
    trades = stats._trades
    buys = ours.fills.filter(pl.col("side") == "buy")
    sells = ours.fills.filter(pl.col("side") == "sell")
    assert buys.height == sells.height == len(trades) > 3
    np.testing.assert_array_equal(buys["qty"].to_numpy(), trades["Size"].to_numpy())
    np.testing.assert_allclose(buys["price"].to_numpy(), trades["EntryPrice"].to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(sells["price"].to_numpy(), trades["ExitPrice"].to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(ours.equity["equity"][-1], stats["Equity Final [$]"], rtol=RTOL)
