"""Small builders shared by the arbitrage tests: an engine with round numbers, and books."""

from services.arbitrage.core.engine import ArbConfig, ArbitrageEngine, OpportunityEvent, SpreadSample
from services.arbitrage.core.fees import fee_table

MS = 1_000_000
T0 = 1_723_161_256_000_000_000
SYMBOL = "BTC-USDT-PERP"

Levels = list[tuple[float, float]]


def config(**overrides: object) -> ArbConfig:
    settings: dict[str, object] = {
        "fees": fee_table({"binance_usdm": 5.0, "okx": 5.0, "bybit": 5.5}),
        "notionals": (10_000.0, 100_000.0),
        "persist_evaluations": 1,
        "persist_ns": 0,
        "cooldown_ns": 10_000 * MS,
        "update_interval_ns": 0,
        "sample_interval_ns": 3_600_000 * MS,
    }
    settings.update(overrides)
    return ArbConfig(**settings)  # type: ignore[arg-type]


def engine(**overrides: object) -> ArbitrageEngine:
    return ArbitrageEngine(config(**overrides))


def book(
    mid: float, *, half_spread: float = 0.05, depth: int = 5, size: float = 2.0, step: float = 0.1
) -> tuple[Levels, Levels]:
    """A symmetric book around ``mid``: ``depth`` levels of ``size`` base units, ``step`` apart."""
    bids = [(round(mid - half_spread - k * step, 6), size) for k in range(depth)]
    asks = [(round(mid + half_spread + k * step, 6), size) for k in range(depth)]
    return bids, asks


def opportunities(items: list[OpportunityEvent | SpreadSample]) -> list[OpportunityEvent]:
    return [item for item in items if isinstance(item, OpportunityEvent)]
