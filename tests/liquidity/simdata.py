"""Simulator markets as the liquidity service sees them: ``book.l2.v1`` books and ``md.trades.v1`` trades.

The simulator's model (``services.simulator.model``) is stepped every 100 ms of model time, which
is also the book-builder's ``book.l2.v1`` throttle; after each step the book's top levels become
one ``BookDepth`` and the step's trade prints become ``Trade`` events, in base units, on the
venue's own tick and lot grid. A liquidity crunch is injected with the simulator's own fault.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from schemas.book import BookDepth, BookStatus
from schemas.common import ExchangeId
from schemas.market_data import Trade
from services.simulator.model import Fault, FaultKind, Grid, MarketModel, TradePrint
from services.simulator.server import grids_for

T0 = 1_700_000_000_000_000_000
STEP_NS = 100_000_000
VENUE = ExchangeId.BINANCE_USDM
SYMBOL = "BTC-USDT-PERP"


@dataclass(frozen=True)
class Crunch:
    at_step: int
    venue: ExchangeId = VENUE
    symbol: str = SYMBOL
    duration_s: float = 10.0
    magnitude: float = 10.0


def _base(grid: Grid, lots: int) -> Decimal:
    assert not grid.inverse
    return lots * grid.lot * grid.contract_size * grid.multiplier


def simulated_market(
    steps: int,
    *,
    seed: int = 11,
    crunch: Crunch | None = None,
    depth: int = 20,
    venues: tuple[ExchangeId, ...] = (VENUE,),
    symbols: tuple[str, ...] = (SYMBOL,),
) -> Iterator[BookDepth | Trade]:
    """Books and trades of simulated linear books, in event-time order (every book each step)."""
    model = MarketModel(grids_for(list(venues), symbols), seed=seed)
    grids = model.grids
    for n in range(steps):
        now = T0 + n * STEP_NS
        if crunch is not None and n == crunch.at_step:
            model.inject(
                Fault(
                    FaultKind.LIQUIDITY_CRUNCH,
                    venue=crunch.venue,
                    symbol=crunch.symbol,
                    magnitude=crunch.magnitude,
                    duration_s=crunch.duration_s,
                )
            )
        for event in model.step(now):
            if isinstance(event, TradePrint):
                grid = event.grid
                price = event.price * grid.tick
                base = _base(grid, event.lots)
                yield Trade(
                    exchange=grid.venue,
                    symbol=grid.symbol,
                    native_symbol=grid.native_symbol,
                    exchange_ts=now,
                    receive_ts=now + 5_000_000,
                    trade_id=str(event.trade_id),
                    side=event.taker,
                    price=price,
                    quantity=base,
                    notional=price * base,
                )
        for grid in grids:
            view = model.book(grid.venue, grid.native_symbol, depth)
            yield BookDepth(
                exchange=grid.venue,
                symbol=grid.symbol,
                native_symbol=grid.native_symbol,
                exchange_ts=now,
                receive_ts=now + 5_000_000,
                status=BookStatus.VALID,
                book_seq=n + 1,
                venue_seq=view.last,
                depth=depth,
                bids=[(p * grid.tick, _base(grid, q)) for p, q in view.bids],
                asks=[(p * grid.tick, _base(grid, q)) for p, q in view.asks],
            )
