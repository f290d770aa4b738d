"""The venue-neutral market: one fair price per asset, one book per (venue, instrument).

Pure and seeded: the same seed, the same ``step`` calls and the same timestamps give the same
events, byte for byte. Nothing here knows a wire format; dialects render these events.

- Fair prices follow correlated log random walks (a common market factor plus each asset's own).
- Each venue quotes the fair price times ``exp(basis)``, the basis a mean-reverting (OU) process
  per venue, so venues stay close but not equal, as real ones do.
- Books are built on the venue's own tick and lot grid (``Grid``): ``depth_levels`` per side,
  the spread a few ticks, size growing away from the touch; diffs are the levels that changed.
- Trades arrive as a Poisson process at the touch; funding and open interest drift slowly.
- Faults (``Fault``) distort this on demand or at random: cross-venue dislocations, liquidity
  crunches, liquidation bursts, funding divergence, sequence gaps; transport faults
  (disconnects, stalls, REST rate limits) are passed through for the server to act on.
"""

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from schemas.common import ExchangeId, Side
from services.instruments.catalog import Instrument

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Grid:
    """How one venue lists one instrument: the model books on its tick and lot grid."""

    venue: ExchangeId
    symbol: str
    native_symbol: str
    base: str
    tick: Decimal
    lot: Decimal
    contract_size: Decimal
    multiplier: Decimal
    inverse: bool
    funding_interval_s: int

    @classmethod
    def of(cls, instrument: Instrument) -> "Grid":
        return cls(
            venue=instrument.exchange,
            symbol=instrument.symbol,
            native_symbol=instrument.native_symbol,
            base=instrument.base,
            tick=instrument.tick_size,
            lot=instrument.lot_size,
            contract_size=instrument.contract_size,
            multiplier=instrument.multiplier,
            inverse=instrument.inverse,
            funding_interval_s=instrument.funding_interval_s,
        )

    def price(self, ticks: int) -> Decimal:
        return ticks * self.tick

    def quantity(self, lots: int) -> Decimal:
        return lots * self.lot

    def base_per_lot(self, venue_price: float) -> float:
        """Base units in one lot at this venue price (inverse contracts are worth quote units)."""
        if self.inverse:
            return float(self.lot * self.contract_size) / max(venue_price, 1e-12)
        return float(self.lot * self.contract_size * self.multiplier)


@dataclass(frozen=True, slots=True)
class AssetProfile:
    price: float
    """Start price in quote units per ONE base unit (not per 1000)."""
    volatility: float = 2e-4
    """Standard deviation of the log price over one second."""
    top_depth: float = 1.0
    """Base units resting at the touch, before noise."""
    trade_rate_per_s: float = 6.0
    trade_size: float = 0.05
    """Mean taker size, base units."""
    open_interest: float = 50_000.0
    """Base units."""


DEFAULT_PROFILES: dict[str, AssetProfile] = {
    "BTC": AssetProfile(price=65_000.0, top_depth=2.0, trade_size=0.05, open_interest=80_000.0),
    "ETH": AssetProfile(price=3_200.0, top_depth=30.0, trade_size=1.0, open_interest=1_500_000.0),
    "SOL": AssetProfile(price=150.0, top_depth=300.0, trade_size=10.0, open_interest=8_000_000.0),
    "PEPE": AssetProfile(price=0.00001, top_depth=5e8, trade_size=2e7, open_interest=5e12),
}


def profile_of(base: str) -> AssetProfile:
    return DEFAULT_PROFILES.get(base, AssetProfile(price=1.0, top_depth=10_000.0, trade_size=500.0))


class FaultKind(StrEnum):
    DISLOCATION = "dislocation"
    LIQUIDITY_CRUNCH = "liquidity_crunch"
    LIQUIDATION_BURST = "liquidation_burst"
    FUNDING_DIVERGENCE = "funding_divergence"
    SEQUENCE_GAP = "sequence_gap"
    DISCONNECT = "disconnect"
    STALL = "stall"
    REST_RATE_LIMIT = "rest_rate_limit"


TRANSPORT_FAULTS = frozenset({FaultKind.DISCONNECT, FaultKind.STALL, FaultKind.REST_RATE_LIMIT})


@dataclass(frozen=True, slots=True)
class Fault:
    """One distortion. ``venue``/``symbol`` None means one picked by the model's RNG."""

    kind: FaultKind
    venue: ExchangeId | None = None
    symbol: str | None = None
    """Canonical symbol (BTC-USDT-PERP)."""
    magnitude: float | None = None
    """Dislocation: bps; crunch: spread multiple; burst: liquidations per tick; funding: rate offset;
    rate limit: Retry-After seconds."""
    duration_s: float | None = None
    count: int | None = None
    """Rate limit: how many REST answers are 429."""


# --- events -------------------------------------------------------------------------------------

Level = tuple[int, int]
"""(price in ticks, quantity in lots) on the venue's grid; lots 0 deletes the level."""


@dataclass(frozen=True, slots=True)
class BookChange:
    grid: Grid
    ts: int
    first: int
    last: int
    prev: int
    update_no: int
    """Consecutive per book (1, 2, 3...), for venues whose ids have no gaps (Bybit ``u``)."""
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    suppressed: bool = False
    """An injected sequence gap: the model moved on, but no venue sends this update."""
    added_bids: tuple[int, ...] = ()
    """Prices (ticks) of ``bids`` that were not in the book before (BitMEX ``insert`` vs ``update``)."""
    added_asks: tuple[int, ...] = ()
    level_changes_before: int = 0
    """Level changes of this book before this update, for venues that number every single level
    change (KuCoin ``sequence``): this update's changes are ``level_changes_before + 1...``."""


@dataclass(frozen=True, slots=True)
class TopOfBook:
    grid: Grid
    ts: int
    update_id: int
    bid: Level
    ask: Level


@dataclass(frozen=True, slots=True)
class TradePrint:
    grid: Grid
    ts: int
    trade_id: int
    price: int
    lots: int
    taker: Side
    forced: bool = False
    """A liquidation's fill (a ``LiquidationPrint`` follows), for venues that flag it on the trade."""


@dataclass(frozen=True, slots=True)
class FundingPrint:
    grid: Grid
    ts: int
    rate: Decimal
    mark: int
    index: int
    next_funding_ts: int


@dataclass(frozen=True, slots=True)
class OpenInterestPrint:
    grid: Grid
    ts: int
    lots: int
    price: int


@dataclass(frozen=True, slots=True)
class LiquidationPrint:
    grid: Grid
    ts: int
    side: Side
    """Side of the liquidation order: sell = a long was liquidated."""
    price: int
    lots: int


@dataclass(frozen=True, slots=True)
class TransportFault:
    """A fault the model cannot play itself: the server disconnects, stalls or rate limits."""

    kind: FaultKind
    venue: ExchangeId
    duration_s: float
    magnitude: float
    count: int


MarketEvent = BookChange | TopOfBook | TradePrint | FundingPrint | OpenInterestPrint | LiquidationPrint
ModelEvent = MarketEvent | TransportFault


@dataclass(frozen=True, slots=True)
class BookView:
    grid: Grid
    ts: int
    last: int
    update_no: int
    bids: list[Level]
    """Best (highest) first."""
    asks: list[Level]
    level_changes: int = 0
    """Level changes of this book so far (see ``BookChange.level_changes_before``)."""


@dataclass(frozen=True)
class ModelConfig:
    tick_s: float = 0.1
    depth_levels: int = 20
    correlation: float = 0.8
    """Between each asset's returns and the common market factor."""
    basis_sigma_bps: float = 1.5
    basis_half_life_s: float = 20.0
    level_churn: float = 0.15
    """Chance per tick that a resting level's size changes."""
    funding_every_s: float = 1.0
    open_interest_every_s: float = 1.0
    fault_rate_per_min: float = 0.0
    """Random faults per minute of model time (0: only injected ones)."""
    random_faults: tuple[FaultKind, ...] = tuple(FaultKind)


# --- state --------------------------------------------------------------------------------------


@dataclass
class _Book:
    grid: Grid
    profile: AssetProfile
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    last: int = 0
    update_no: int = 0
    level_changes: int = 0
    trade_id: int = 0
    basis: float = 0.0
    dislocation: float = 0.0
    dislocation_decay: float = 1.0
    crunch_until: int = -1
    crunch_spread: float = 1.0
    burst_until: int = -1
    burst_side: Side = Side.SELL
    burst_rate: float = 3.0
    funding_base: float = 0.0001
    funding_offset: float = 0.0
    funding_offset_until: int = -1
    open_interest: float = 0.0
    suppress_next: bool = False
    top: tuple[Level, Level] | None = None
    mid: float = 0.0


class MarketModel:
    def __init__(self, grids: list[Grid], *, seed: int = 0, config: ModelConfig | None = None) -> None:
        if not grids:
            raise ValueError("the market needs at least one instrument")
        self.config = config or ModelConfig()
        self.rng = random.Random(seed)
        self.steps = 0
        self._assets: dict[str, float] = {}
        self._books: dict[tuple[ExchangeId, str], _Book] = {}
        self._pending: list[Fault] = []
        for grid in grids:
            profile = profile_of(grid.base)
            self._assets.setdefault(grid.base, math.log(profile.price))
            book = _Book(grid=grid, profile=profile)
            book.last = self.rng.randrange(1_000_000, 9_000_000)
            book.funding_base = 0.0001 + self.rng.gauss(0, 0.00002)
            book.open_interest = profile.open_interest * self.rng.uniform(0.5, 1.5)
            self._books[(grid.venue, grid.native_symbol)] = book
        # Deterministic order for every loop over books.
        self._order = sorted(self._books, key=lambda k: (k[0].value, k[1]))
        for key in self._order:
            self._rebuild(self._books[key], 0, changes=False)

    # --- queries ----------------------------------------------------------------------------------

    @property
    def grids(self) -> list[Grid]:
        return [self._books[k].grid for k in self._order]

    def grid(self, venue: ExchangeId, native_symbol: str) -> Grid | None:
        book = self._books.get((venue, native_symbol))
        return book.grid if book else None

    def book(self, venue: ExchangeId, native_symbol: str, depth: int | None = None, ts: int = 0) -> BookView:
        book = self._books[(venue, native_symbol)]
        bids = sorted(book.bids.items(), reverse=True)[:depth]
        asks = sorted(book.asks.items())[:depth]
        return BookView(book.grid, ts, book.last, book.update_no, bids, asks, book.level_changes)

    def mid_price(self, venue: ExchangeId, native_symbol: str) -> float:
        """Venue-unit mid of the current book."""
        return self._books[(venue, native_symbol)].mid

    def fair_price(self, base: str) -> float:
        return math.exp(self._assets[base])

    def open_interest_lots(self, venue: ExchangeId, native_symbol: str) -> int:
        book = self._books[(venue, native_symbol)]
        return max(1, round(book.open_interest / book.grid.base_per_lot(book.mid)))

    def funding_rate(self, venue: ExchangeId, native_symbol: str) -> Decimal:
        book = self._books[(venue, native_symbol)]
        return self._funding(book)

    # --- faults ---------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Applied at the start of the next ``step``."""
        self._pending.append(fault)

    # --- time -----------------------------------------------------------------------------------

    def step(self, now_ns: int) -> list[ModelEvent]:
        """Advance one tick (``config.tick_s``); ``now_ns`` stamps the events."""
        self.steps += 1
        events: list[ModelEvent] = []
        rng, cfg = self.rng, self.config
        if cfg.fault_rate_per_min > 0 and rng.random() < cfg.fault_rate_per_min * cfg.tick_s / 60:
            self._pending.append(Fault(rng.choice(cfg.random_faults)))
        pending, self._pending = self._pending, []
        for fault in pending:
            events.extend(self._apply(fault))
        self._move_prices()
        funding_due = self._every(cfg.funding_every_s)
        oi_due = self._every(cfg.open_interest_every_s)
        for key in self._order:
            book = self._books[key]
            events.extend(self._trades(book, now_ns))
            events.extend(self._rebuild(book, now_ns, changes=True))
            if funding_due:
                events.append(self._funding_print(book, now_ns))
            if oi_due:
                book.open_interest = max(0.0, book.open_interest * (1 + rng.gauss(0, 0.0005)))
                events.append(
                    OpenInterestPrint(
                        book.grid, now_ns, self.open_interest_lots(*key), self._ticks(book, book.mid)
                    )
                )
        return events

    def _every(self, seconds: float) -> bool:
        period = max(1, round(seconds / self.config.tick_s))
        return self.steps % period == 0

    def _move_prices(self) -> None:
        rng, cfg = self.rng, self.config
        dt = cfg.tick_s
        common = rng.gauss(0, 1)
        rho = cfg.correlation
        for asset in sorted(self._assets):
            own = rng.gauss(0, 1)
            sigma = profile_of(asset).volatility * math.sqrt(dt)
            self._assets[asset] += sigma * (rho * common + math.sqrt(1 - rho * rho) * own)
        theta = math.log(2) / cfg.basis_half_life_s
        stationary = cfg.basis_sigma_bps / 1e4
        for key in self._order:
            book = self._books[key]
            # OU with the given stationary standard deviation.
            book.basis += -theta * book.basis * dt + stationary * math.sqrt(2 * theta * dt) * rng.gauss(0, 1)
            book.dislocation *= book.dislocation_decay

    # --- books ------------------------------------------------------------------------------------

    def _venue_mid(self, book: _Book) -> float:
        fair = math.exp(self._assets[book.grid.base] + book.basis + book.dislocation)
        return fair * float(book.grid.multiplier)

    def _ticks(self, book: _Book, venue_price: float) -> int:
        return max(1, round(venue_price / float(book.grid.tick)))

    def _level_lots(self, book: _Book, k: int, venue_price: float, depth_factor: float) -> int:
        base = book.profile.top_depth * (1 + 0.4 * k) * math.exp(self.rng.gauss(0, 0.5)) * depth_factor
        return max(1, round(base / book.grid.base_per_lot(venue_price)))

    def _rebuild(self, book: _Book, now_ns: int, *, changes: bool) -> list[MarketEvent]:
        rng = self.rng
        tick = float(book.grid.tick)
        mid = self._venue_mid(book)
        book.mid = mid
        crunched = self.steps <= book.crunch_until
        spread = max(1, round(rng.choice((1, 1, 1, 2)) * (book.crunch_spread if crunched else 1.0)))
        depth_factor = 0.1 if crunched else 1.0
        best_bid = max(1, math.floor(mid / tick - spread / 2))
        best_ask = best_bid + spread
        levels = self.config.depth_levels
        churn = self.config.level_churn
        new_bids: dict[int, int] = {}
        new_asks: dict[int, int] = {}
        for k in range(levels):
            for side, new, price in (
                (book.bids, new_bids, best_bid - k),
                (book.asks, new_asks, best_ask + k),
            ):
                if price <= 0:
                    continue
                resting = side.get(price)
                if resting is None or rng.random() < churn or (crunched and resting > 1 and k < 3):
                    new[price] = self._level_lots(book, k, price * tick, depth_factor)
                else:
                    new[price] = resting
        bid_changes = _diff(book.bids, new_bids, reverse=True)
        ask_changes = _diff(book.asks, new_asks, reverse=False)
        added_bids = tuple(p for p, q in bid_changes if q and p not in book.bids)
        added_asks = tuple(p for p, q in ask_changes if q and p not in book.asks)
        book.bids, book.asks = new_bids, new_asks
        if not changes or not (bid_changes or ask_changes):
            book.top = ((best_bid, new_bids[best_bid]), (best_ask, new_asks[best_ask]))
            return []
        prev = book.last
        first = prev + 1
        book.last = prev + rng.randint(1, 6)
        book.update_no += 1
        changes_before = book.level_changes
        book.level_changes += len(bid_changes) + len(ask_changes)
        events: list[MarketEvent] = [
            BookChange(
                book.grid,
                now_ns,
                first,
                book.last,
                prev,
                book.update_no,
                bid_changes,
                ask_changes,
                suppressed=book.suppress_next,
                added_bids=added_bids,
                added_asks=added_asks,
                level_changes_before=changes_before,
            )
        ]
        book.suppress_next = False
        top = ((best_bid, new_bids[best_bid]), (best_ask, new_asks[best_ask]))
        if top != book.top:
            book.top = top
            events.append(TopOfBook(book.grid, now_ns, book.last, top[0], top[1]))
        return events

    # --- trades, funding, liquidations ---------------------------------------------------------

    def _trades(self, book: _Book, now_ns: int) -> list[MarketEvent]:
        if book.top is None:
            return []
        rng = self.rng
        events: list[MarketEvent] = []
        count = _poisson(rng, book.profile.trade_rate_per_s * self.config.tick_s)
        bursting = self.steps <= book.burst_until
        liquidations = _poisson(rng, book.burst_rate) if bursting else 0
        (bid, _), (ask, _) = book.top
        for n in range(count + liquidations):
            forced = n >= count
            taker = book.burst_side if forced else (Side.BUY if rng.random() < 0.5 else Side.SELL)
            price = ask if taker is Side.BUY else bid
            size = rng.expovariate(1 / book.profile.trade_size) * (3 if forced else 1)
            lots = max(1, round(size / book.grid.base_per_lot(price * float(book.grid.tick))))
            book.trade_id += 1
            events.append(TradePrint(book.grid, now_ns, book.trade_id, price, lots, taker, forced))
            if forced:
                events.append(LiquidationPrint(book.grid, now_ns, book.burst_side, price, lots))
        if bursting:
            # Forced selling pushes this venue's price away, a little more each tick.
            push = 3e-4 if book.burst_side is Side.BUY else -3e-4
            book.dislocation += push
        return events

    def _funding(self, book: _Book) -> Decimal:
        offset = book.funding_offset if self.steps <= book.funding_offset_until else 0.0
        premium = book.basis + book.dislocation
        rate = book.funding_base + offset + 0.1 * premium
        return Decimal(f"{rate:.8f}")

    def _funding_print(self, book: _Book, now_ns: int) -> FundingPrint:
        interval_ns = book.grid.funding_interval_s * NS
        next_funding = (now_ns // interval_ns + 1) * interval_ns
        index = math.exp(self._assets[book.grid.base]) * float(book.grid.multiplier)
        return FundingPrint(
            book.grid,
            now_ns,
            self._funding(book),
            self._ticks(book, book.mid),
            self._ticks(book, index),
            next_funding,
        )

    # --- fault application --------------------------------------------------------------------

    def _pick(self, fault: Fault) -> list[_Book]:
        candidates = [
            self._books[k]
            for k in self._order
            if (fault.venue is None or k[0] == fault.venue)
            and (fault.symbol is None or self._books[k].grid.symbol == fault.symbol)
        ]
        if not candidates:
            return []
        if fault.venue is None and fault.symbol is None:
            return [self.rng.choice(candidates)]
        return candidates

    def _ticks_for(self, seconds: float) -> int:
        return self.steps + max(1, round(seconds / self.config.tick_s))

    def _apply(self, fault: Fault) -> list[ModelEvent]:
        kind = fault.kind
        if kind in TRANSPORT_FAULTS:
            venue = fault.venue or self.rng.choice(sorted({k[0] for k in self._order}, key=lambda v: v.value))
            return [
                TransportFault(
                    kind,
                    venue,
                    fault.duration_s if fault.duration_s is not None else 5.0,
                    fault.magnitude if fault.magnitude is not None else 1.0,
                    fault.count if fault.count is not None else 3,
                )
            ]
        duration = fault.duration_s if fault.duration_s is not None else 10.0
        for book in self._pick(fault):
            if kind is FaultKind.DISLOCATION:
                bps = fault.magnitude if fault.magnitude is not None else self.rng.choice((-1, 1)) * 50.0
                book.dislocation += bps / 1e4
                ticks = max(1.0, duration / self.config.tick_s)
                book.dislocation_decay = math.exp(-3.0 / ticks)  # ~5% left after the duration
            elif kind is FaultKind.LIQUIDITY_CRUNCH:
                book.crunch_until = self._ticks_for(duration)
                book.crunch_spread = fault.magnitude if fault.magnitude is not None else 10.0
            elif kind is FaultKind.LIQUIDATION_BURST:
                book.burst_until = self._ticks_for(duration if fault.duration_s is not None else 2.0)
                book.burst_side = Side.SELL if self.rng.random() < 0.7 else Side.BUY
                book.burst_rate = fault.magnitude if fault.magnitude is not None else 3.0
            elif kind is FaultKind.FUNDING_DIVERGENCE:
                book.funding_offset = fault.magnitude if fault.magnitude is not None else 0.001
                book.funding_offset_until = self._ticks_for(
                    duration if fault.duration_s is not None else 60.0
                )
            elif kind is FaultKind.SEQUENCE_GAP:
                book.suppress_next = True
        return []


def _diff(old: dict[int, int], new: dict[int, int], *, reverse: bool) -> tuple[Level, ...]:
    changed = [(p, q) for p, q in new.items() if old.get(p) != q]
    changed.extend((p, 0) for p in old if p not in new)
    changed.sort(reverse=reverse)
    return tuple(changed)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    # Knuth's method: the means here are small (a few events per tick).
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k
