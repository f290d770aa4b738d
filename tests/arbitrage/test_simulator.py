"""The exchange simulator's market model with an injected cross-venue dislocation.

Three venues quote BTC-USDT-PERP on their own grids (OKX in 0.01 BTC contracts). On calm data
nothing opens; when OKX is pushed 60 bps up, a spread opportunity opens selling on OKX and buying
on a cheaper venue, and closes once the dislocation has decayed below the fees.
"""

from decimal import Decimal

from schemas.common import ExchangeId
from services.arbitrage.core.engine import ArbConfig, ArbitrageEngine, Kind, OpportunityEvent
from services.arbitrage.core.fees import fee_table
from services.arbitrage.core.funding import FundingQuote
from services.arbitrage.core.lifecycle import Transition
from services.simulator.model import Fault, FaultKind, FundingPrint, Grid, MarketModel

NS = 1_000_000_000
TICK_NS = NS // 10
SYMBOL = "BTC-USDT-PERP"
GRIDS = [
    Grid(
        ExchangeId.BINANCE_USDM,
        SYMBOL,
        "BTCUSDT",
        "BTC",
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal(1),
        Decimal(1),
        False,
        8 * 3600,
    ),
    Grid(
        ExchangeId.BYBIT,
        SYMBOL,
        "BTCUSDT",
        "BTC",
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal(1),
        Decimal(1),
        False,
        8 * 3600,
    ),
    Grid(
        ExchangeId.OKX,
        SYMBOL,
        "BTC-USDT-SWAP",
        "BTC",
        Decimal("0.1"),
        Decimal(1),
        Decimal("0.01"),
        Decimal(1),
        False,
        8 * 3600,
    ),
]


def _base_levels(grid: Grid, levels: list[tuple[int, int]]) -> list[tuple[float, float]]:
    """Ticks and lots on the venue grid -> (price, base quantity), as the ingest normalizers do."""
    tick, per_lot = float(grid.tick), float(grid.lot * grid.contract_size * grid.multiplier)
    return [(ticks * tick / float(grid.multiplier), lots * per_lot) for ticks, lots in levels]


def _run(model: MarketModel, engine: ArbitrageEngine, start_step: int, steps: int) -> list[OpportunityEvent]:
    events: list[OpportunityEvent] = []
    for step in range(start_step, start_step + steps):
        now = 1_723_161_256_000_000_000 + step * TICK_NS
        for printed in model.step(now):
            if isinstance(printed, FundingPrint):
                grid = printed.grid
                quote = FundingQuote(
                    now,
                    float(printed.rate),
                    grid.funding_interval_s,
                    printed.next_funding_ts,
                    printed.mark * float(grid.tick),
                    printed.index * float(grid.tick),
                )
                events.extend(
                    e
                    for e in engine.on_funding(grid.venue.value, SYMBOL, quote)
                    if isinstance(e, OpportunityEvent)
                )
        for grid in GRIDS:
            view = model.book(grid.venue, grid.native_symbol, depth=20)
            emitted = engine.on_depth(
                grid.venue.value, SYMBOL, now, _base_levels(grid, view.bids), _base_levels(grid, view.asks)
            )
            events.extend(e for e in emitted if isinstance(e, OpportunityEvent))
    return events


def test_dislocation_opens_on_the_right_pair_and_closes_when_it_heals() -> None:
    model = MarketModel(GRIDS, seed=11)
    engine = ArbitrageEngine(ArbConfig(fees=fee_table({"binance_usdm": 5.0, "bybit": 5.5, "okx": 5.0})))

    calm = _run(model, engine, 0, 600)  # one minute of calm market
    assert calm == []
    calm_evaluations = engine.counters.evaluations
    # every book change evaluates both directions of its 2 pairs, except while the first books arrive
    assert calm_evaluations == 600 * 3 * 4 - 6

    model.inject(
        Fault(FaultKind.DISLOCATION, venue=ExchangeId.OKX, symbol=SYMBOL, magnitude=60.0, duration_s=10.0)
    )
    events = _run(model, engine, 600, 400)
    spread = [e for e in events if e.kind is Kind.SPREAD]
    opened = [e for e in spread if e.transition is Transition.OPENED]
    closed = [e for e in spread if e.transition is Transition.CLOSED]
    assert opened, "the dislocation was not seen"
    assert {e.view.sell.exchange for e in opened} == {"okx"}
    assert {e.view.buy.exchange for e in opened} <= {"binance_usdm", "bybit"}
    assert all(e.value >= 1.0 for e in opened)
    # everything that opened has closed, converged, while the dislocation decayed
    assert sorted(e.opportunity_id for e in closed) == sorted(e.opportunity_id for e in opened)
    assert {e.reason for e in closed} == {"converged"}
    assert all(0 < e.ts - e.opened_ts < 15 * NS for e in closed)
    # funding reacts to the premium too, in the same direction (short the dear venue)
    funding = [e for e in events if e.kind is Kind.FUNDING and e.transition is Transition.OPENED]
    assert all(e.view.sell.exchange == "okx" for e in funding)


def test_nothing_opens_on_calm_data_over_the_same_time() -> None:
    model = MarketModel(GRIDS, seed=11)
    engine = ArbitrageEngine(ArbConfig(fees=fee_table({"binance_usdm": 5.0, "bybit": 5.5, "okx": 5.0})))
    assert _run(model, engine, 0, 1000) == []
    assert engine.counters.rejections == {}
