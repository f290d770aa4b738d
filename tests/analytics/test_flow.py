"""Liquidation and large-trade windows on hand-made events, including a COIN-M (inverse) one."""

from decimal import Decimal
from typing import Any

import pytest

from schemas.analytics import FlowKind, FlowWindow, LargeTrade
from schemas.common import ExchangeId, Side
from schemas.market_data import Liquidation, Trade
from services.analytics.core.engine import AnalyticsEngine, EngineConfig, Rejected
from services.analytics.core.flow import usd_notional

S = 1_000_000_000
USDM: dict[str, Any] = {
    "exchange": ExchangeId.BINANCE_USDM,
    "symbol": "BTC-USDT-PERP",
    "native_symbol": "BTCUSDT",
}
COINM: dict[str, Any] = {
    "exchange": ExchangeId.BINANCE_COINM,
    "symbol": "BTC-USD-PERP",
    "native_symbol": "BTCUSD_PERP",
}


def liquidation(
    ident: dict[str, Any], ts_s: float, side: Side, price: str, qty: str, notional: str
) -> Liquidation:
    return Liquidation(
        **ident,
        exchange_ts=int(ts_s * S),
        receive_ts=int(ts_s * S),
        side=side,
        price=Decimal(price),
        quantity=Decimal(qty),
        notional=Decimal(notional),
    )


def windows(engine: AnalyticsEngine, events: list[Liquidation]) -> list[FlowWindow]:
    out = []
    for e in events:
        out += [w for _, w in engine.on_event("md.liquidations.v1", e) if isinstance(w, FlowWindow)]
    return out


def test_liquidation_windows_per_side_and_length() -> None:
    engine = AnalyticsEngine(EngineConfig(grace_ms=0))
    got = windows(
        engine,
        [
            liquidation(USDM, 10, Side.SELL, "60000", "0.5", "30000"),
            liquidation(USDM, 20, Side.SELL, "59990", "0.25", "14997.5"),
            liquidation(USDM, 30, Side.BUY, "60010", "1", "60010"),
            liquidation(USDM, 70, Side.SELL, "59900", "2", "119800"),  # closes the first minute
            liquidation(USDM, 301, Side.BUY, "60100", "1", "60100"),  # closes the 5 m window and minute 1
        ],
    )
    summary = [
        (w.window_s, w.exchange_ts // S, w.side, w.count, w.quantity, w.notional, w.notional_usd) for w in got
    ]
    assert summary == [
        (60, 0, Side.BUY, 1, Decimal(1), Decimal(60010), Decimal(60010)),
        (60, 0, Side.SELL, 2, Decimal("0.75"), Decimal("44997.5"), Decimal("44997.5")),
        (60, 60, Side.SELL, 1, Decimal(2), Decimal(119800), Decimal(119800)),
        (300, 0, Side.BUY, 1, Decimal(1), Decimal(60010), Decimal(60010)),
        (300, 0, Side.SELL, 3, Decimal("2.75"), Decimal("164797.5"), Decimal("164797.5")),
    ]
    assert all(w.kind is FlowKind.LIQUIDATION for w in got)


def test_coin_margined_liquidations_use_the_normalized_base_and_usd_notional() -> None:
    # Binance COIN-M BTCUSD_PERP: 3 contracts of 100 USD at 60,000 = 300 USD = 0.005 BTC.
    engine = AnalyticsEngine(EngineConfig(grace_ms=0, flow_windows_s=(60,)))
    got = windows(
        engine,
        [
            liquidation(COINM, 5, Side.BUY, "60000", "0.005", "300"),
            liquidation(COINM, 6, Side.BUY, "50000", "0.002", "100"),
            liquidation(COINM, 61, Side.SELL, "50000", "0.002", "100"),
        ],
    )
    assert [(w.symbol, w.count, w.quantity, w.notional_usd) for w in got] == [
        ("BTC-USD-PERP", 2, Decimal("0.007"), Decimal(400))
    ]


def test_a_liquidation_in_an_emitted_window_is_rejected() -> None:
    engine = AnalyticsEngine(EngineConfig(grace_ms=0, flow_windows_s=(60,)))
    windows(
        engine,
        [liquidation(USDM, 5, Side.BUY, "1", "1", "1"), liquidation(USDM, 65, Side.BUY, "1", "1", "1")],
    )
    with pytest.raises(Rejected, match="already emitted"):
        engine.on_event("md.liquidations.v1", liquidation(USDM, 30, Side.BUY, "1", "1", "1"))


def trade(i: int, ts_s: float, qty: str, price: str = "60000", ident: dict[str, Any] = USDM) -> Trade:
    q, p = Decimal(qty), Decimal(price)
    return Trade(
        **ident,
        exchange_ts=int(ts_s * S),
        receive_ts=0,
        trade_id=str(i),
        side=Side.BUY,
        price=p,
        quantity=q,
        notional=q * p,
    )


def test_large_trades_over_the_symbol_threshold_are_events_and_windows() -> None:
    config = EngineConfig(
        grace_ms=0,
        flow_windows_s=(60,),
        large_trade_usd_by_symbol={"BTC-USDT-PERP": Decimal(500_000)},
    )
    engine = AnalyticsEngine(config)
    flow = []
    for i, (ts, qty) in enumerate([(1, "1"), (2, "9"), (3, "8.5"), (62, "10")]):
        flow += [
            e
            for topic, e in engine.on_event("md.trades.v1", trade(i, ts, qty))
            if topic == "analytics.flow.v1"
        ]
    large = [e for e in flow if isinstance(e, LargeTrade)]
    assert [(e.trade_id, e.notional_usd, e.threshold_usd) for e in large] == [
        ("1", Decimal(540000), Decimal(500000)),
        ("2", Decimal(510000), Decimal(500000)),
        ("3", Decimal(600000), Decimal(500000)),
    ]
    [window] = [e for e in flow if isinstance(e, FlowWindow)]
    assert (window.kind, window.count, window.quantity) == (FlowKind.LARGE_TRADE, 2, Decimal("17.5"))


def test_usd_notional_only_for_usd_like_quotes() -> None:
    assert usd_notional("BTC-USDT-PERP", Decimal(5)) == 5
    assert usd_notional("BTC-USD-PERP", Decimal(5)) == 5
    assert usd_notional("ETH-BTC-PERP", Decimal(5)) is None


@pytest.mark.data
def test_coinm_capture_trades_have_usd_notional_from_the_contract_size(coinm_trades: list[Trade]) -> None:
    # Every BTCUSD_PERP contract is 100 USD: the normalized notional is a multiple of 100.
    assert coinm_trades
    assert all(t.notional % 100 == 0 for t in coinm_trades)
    assert all(usd_notional(t.symbol, t.notional) == t.notional for t in coinm_trades)
