"""Events on a controlled clock for the alert core's tests."""

from collections.abc import Sequence
from decimal import Decimal

from schemas.alert import AlertRule
from schemas.common import ExchangeId
from schemas.market_data import Candle, ConnectorState, ConnectorStatus
from services.alert.core.catalog import MetricCatalog, registered_catalog
from services.alert.core.engine import AlertEngine

S = 1_000_000_000
T0 = 1_723_161_240 * S
CATALOG: MetricCatalog = registered_catalog(["md.candles.v1", "md.status.v1"])


def at(seconds: float) -> int:
    return T0 + int(seconds * S)


def candle(
    seconds: float, close: str | int | float, exchange: str = "okx", symbol: str = "ETH-USDT-PERP"
) -> Candle:
    price = Decimal(str(close))
    ts = at(seconds)
    return Candle(
        exchange=ExchangeId(exchange),
        symbol=symbol,
        native_symbol=symbol.replace("-PERP", "").replace("-", ""),
        exchange_ts=ts,
        receive_ts=ts,
        interval_s=1,
        close_ts=ts + S - 1,
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
        notional=price,
        trade_count=1,
        closed=True,
    )


def status(
    seconds: float, state: str, exchange: str = "okx", connection: str = "ws-1", symbols: tuple[str, ...] = ()
) -> ConnectorStatus:
    return ConnectorStatus(
        exchange=ExchangeId(exchange),
        connection_id=connection,
        state=ConnectorState(state),
        symbols=list(symbols),
        ts=at(seconds),
    )


def rule(**fields: object) -> AlertRule:
    base: dict[str, object] = {
        "id": "high-close",
        "name": "ETH close high",
        "metric": "md.candles.v1.close",
        "condition": ">",
        "threshold": "100",
        "repeat_interval": "0s",
    }
    base.update(fields)
    return AlertRule.model_validate(base)


def engine(*rules: AlertRule) -> AlertEngine:
    return AlertEngine(CATALOG, rules)


def run(
    eng: AlertEngine, series: Sequence[tuple[float, float]], **candle_fields: str
) -> list[tuple[str, float, int]]:
    """Feed closes at the given seconds; returns (status, seconds of the notification, reminder)."""
    notes = []
    for seconds, close in series:
        for note in eng.on_event("md.candles.v1", candle(seconds, close, **candle_fields)):
            notes.append((note.status.value, (note.event_ts - T0) / S, note.reminder))
    return notes
