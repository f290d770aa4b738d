"""The arbitrage engine: every book or funding change re-evaluates the pairs of its symbol.

Per symbol (or per base with dollar quotes, when the user opts in) and ordered pair of legs
(buy on A, sell on B):

- gross spread, bps: ``(bid_B - ask_A) / mid * 1e4``, mid the mean of the two venues' mids;
- executable spread per notional, bps: the same base quantity (notional / mid) walked through A's
  asks and B's bids, both taker fees subtracted; None when either side is too thin;
- funding per leg (per hour, APR, time to next funding, basis) and the long A / short B
  differential APR;
- guards (invalid book, stale leg, skewed legs, absurd spread) that keep an opportunity from
  opening, and close an open one;
- the lifecycle of ``spread`` opportunities (on the executable spread at the smallest notional)
  and of ``funding`` opportunities (on the differential APR), and spread samples at a cadence.

Time is the venues' own ``exchange_ts``: "now" for a symbol is the newest book (or funding) time
seen for it, so a leg that stopped updating while others went on becomes stale. Evaluations that
cannot open anything (calm pair, nothing open, no sample due) stop after the gross spread.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from services.arbitrage.core.fees import FeeTable
from services.arbitrage.core.funding import FundingQuote, differential_apr
from services.arbitrage.core.legs import Leg, PairState
from services.arbitrage.core.lifecycle import LifecycleRules, OpenOpportunity, Step, Transition
from services.arbitrage.core.symbols import group_of, split_symbol
from services.arbitrage.core.vwap import walk_vwap

BPS = 10_000.0


class Guard(StrEnum):
    INVALID_BOOK = "invalid_book"
    STALE = "stale"
    SKEW = "skew"
    SANITY_CAP = "sanity_cap"
    STALE_FUNDING = "stale_funding"


class Kind(StrEnum):
    SPREAD = "spread"
    FUNDING = "funding"


@dataclass(frozen=True)
class ArbConfig:
    fees: FeeTable = field(default_factory=FeeTable)
    notionals: tuple[float, ...] = (10_000.0, 100_000.0, 1_000_000.0)
    """Quote units, ascending; the smallest decides whether a spread opportunity opens."""
    max_age_ns: int = 2_000_000_000
    max_skew_ns: int = 500_000_000
    sanity_cap_bps: float = 500.0
    open_bps: float = 1.0
    """Executable spread (after fees) at the smallest notional needed to open."""
    close_bps: float = 0.0
    persist_evaluations: int = 5
    persist_ns: int = 1_000_000_000
    cooldown_ns: int = 30_000_000_000
    update_interval_ns: int = 1_000_000_000
    sample_interval_ns: int = 10_000_000_000
    cross_quote: bool = False
    funding_open_apr_bps: float = 1_000.0
    """Differential APR (long A / short B) needed to open a funding opportunity: 1000 bps = 10 %/year."""
    funding_close_apr_bps: float = 500.0
    funding_max_age_ns: int = 300_000_000_000

    def __post_init__(self) -> None:
        if not self.notionals or any(n <= 0 for n in self.notionals):
            raise ValueError("notionals must be positive")
        if tuple(sorted(self.notionals)) != self.notionals:
            raise ValueError("notionals must be ascending")
        if self.close_bps > self.open_bps or self.funding_close_apr_bps > self.funding_open_apr_bps:
            raise ValueError("a close threshold above its open threshold would flap")


@dataclass(frozen=True, slots=True)
class LegView:
    exchange: str
    symbol: str
    quote: str
    fee_bps: float
    book_ts: int
    best_bid: float
    best_ask: float
    funding: FundingQuote | None


@dataclass(frozen=True, slots=True)
class Fill:
    notional: float
    spread_bps: float | None
    """Executable spread after both taker fees; None when either book is too thin."""
    buy_vwap: float | None
    sell_vwap: float | None


@dataclass(frozen=True, slots=True)
class PairView:
    """Everything known about one ordered pair at one evaluation."""

    ts: int
    buy: LegView
    sell: LegView
    gross_bps: float | None
    mid: float | None
    fills: tuple[Fill, ...]
    differential_apr: float | None
    """Long ``buy`` / short ``sell`` funding carry, a fraction a year; None without both fundings."""


@dataclass(frozen=True, slots=True)
class OpportunityEvent:
    kind: Kind
    transition: Transition
    opportunity_id: str
    seq: int
    ts: int
    first_seen_ts: int
    opened_ts: int
    value: float
    """spread: executable bps at the smallest notional; funding: differential APR in bps."""
    peak: float
    peak_ts: int
    reason: str
    view: PairView
    qualified_notional: float | None
    """spread: the largest notional whose executable spread still reaches the open threshold."""


@dataclass(frozen=True, slots=True)
class SpreadSample:
    view: PairView
    guard: str
    """The guard that would block an opening now, "" when none does."""


Emitted = OpportunityEvent | SpreadSample


@dataclass
class Counters:
    evaluations: int = 0
    funding_evaluations: int = 0
    opened: int = 0
    updated: int = 0
    closed: int = 0
    samples: int = 0
    rejections: dict[str, int] = field(default_factory=dict)

    def reject(self, guard: str) -> None:
        self.rejections[guard] = self.rejections.get(guard, 0) + 1


class _Group:
    __slots__ = ("book_now", "funding_now", "legs")

    def __init__(self) -> None:
        self.legs: list[Leg] = []
        self.book_now = -1
        self.funding_now = -1


class ArbitrageEngine:
    def __init__(self, config: ArbConfig) -> None:
        self.config = config
        self.counters = Counters()
        self._spread_rules = LifecycleRules(
            open_at=config.open_bps,
            close_below=config.close_bps,
            persist_evaluations=config.persist_evaluations,
            persist_ns=config.persist_ns,
            cooldown_ns=config.cooldown_ns,
            update_interval_ns=config.update_interval_ns,
        )
        self._funding_rules = LifecycleRules(
            open_at=config.funding_open_apr_bps,
            close_below=config.funding_close_apr_bps,
            persist_evaluations=config.persist_evaluations,
            persist_ns=config.persist_ns,
            cooldown_ns=config.cooldown_ns,
            update_interval_ns=config.update_interval_ns,
        )
        self._legs: dict[str, Leg] = {}
        self._groups: dict[str, _Group] = {}
        self._leg_group: dict[str, _Group] = {}
        self._pairs: dict[tuple[str, str], PairState] = {}
        self.warming = False
        """Rebuilding books from inputs already processed before a restart: legs, clocks and
        sampling schedule move, lifecycles do not, nothing is emitted."""

    # --- inputs -------------------------------------------------------------------------------

    def on_depth(
        self,
        exchange: str,
        symbol: str,
        ts: int,
        bids: Sequence[tuple[float, float]],
        asks: Sequence[tuple[float, float]],
    ) -> list[Emitted]:
        """A valid ``book.l2.v1``: levels best first, base quantities."""
        leg, group = self._leg(exchange, symbol)
        if self.warming and ts < leg.book_ts:
            return []  # a replay after a rebalance: the leg already holds newer levels
        leg.set_depth(ts, bids, asks)
        return self._book_changed(leg, group, ts)

    def on_invalid(self, exchange: str, symbol: str, ts: int, reason: str) -> list[Emitted]:
        """An invalid ``book.l2.v1``: the leg is unusable until a valid depth follows."""
        leg, group = self._leg(exchange, symbol)
        leg.set_invalid(ts, reason)
        return self._book_changed(leg, group, ts)

    def on_top(
        self, exchange: str, symbol: str, ts: int, bid: float, bid_qty: float, ask: float, ask_qty: float
    ) -> list[Emitted]:
        """A ``book.bbo.v1``."""
        leg, group = self._leg(exchange, symbol)
        leg.set_top(ts, bid, bid_qty, ask, ask_qty)
        return self._book_changed(leg, group, ts)

    def on_funding(self, exchange: str, symbol: str, quote: FundingQuote) -> list[Emitted]:
        """An ``md.funding.v1``."""
        leg, group = self._leg(exchange, symbol)
        leg.funding = quote
        if quote.ts > group.funding_now:
            group.funding_now = quote.ts
        out: list[Emitted] = []
        now = group.funding_now
        if self.warming:
            return out
        for other in group.legs:
            if other is not leg:
                self._evaluate_funding(leg, other, now, out)
                self._evaluate_funding(other, leg, now, out)
        return out

    # --- state ----------------------------------------------------------------------------------

    @property
    def open_count(self) -> dict[Kind, int]:
        counts = {Kind.SPREAD: 0, Kind.FUNDING: 0}
        for state in self._pairs.values():
            counts[Kind.SPREAD] += state.spread.current is not None
            counts[Kind.FUNDING] += state.funding.current is not None
        return counts

    def restore(
        self,
        kind: Kind,
        buy_key: str,
        sell_key: str,
        opened: OpenOpportunity | None,
        cooldown_until: int,
    ) -> None:
        """Reinstall a pair's lifecycle as its published events left it (keys ``exchange:symbol``)."""
        state = self._pair(buy_key, sell_key)
        lifecycle = state.spread if kind is Kind.SPREAD else state.funding
        lifecycle.restore(opened, cooldown_until)

    # --- evaluation -------------------------------------------------------------------------------

    def _leg(self, exchange: str, symbol: str) -> tuple[Leg, _Group]:
        key = f"{exchange}:{symbol}"
        leg = self._legs.get(key)
        if leg is not None:
            return leg, self._leg_group[key]
        leg = Leg(exchange, symbol, split_symbol(symbol).quote, self.config.fees.taker(exchange))
        group_key = group_of(symbol, cross_quote=self.config.cross_quote)
        group = self._groups.get(group_key)
        if group is None:
            group = self._groups[group_key] = _Group()
        for other in group.legs:
            leg.as_buyer[other] = self._pair(leg.key, other.key)
            other.as_buyer[leg] = self._pair(other.key, leg.key)
        group.legs.append(leg)
        group.legs.sort(key=lambda g: g.key)  # evaluation order must not depend on arrival order
        self._legs[key] = leg
        self._leg_group[key] = group
        return leg, group

    def _pair(self, buy_key: str, sell_key: str) -> PairState:
        state = self._pairs.get((buy_key, sell_key))
        if state is None:
            state = self._pairs[(buy_key, sell_key)] = PairState(buy_key, sell_key)
        return state

    def _book_changed(self, leg: Leg, group: _Group, ts: int) -> list[Emitted]:
        if ts > group.book_now:
            group.book_now = ts
        out: list[Emitted] = []
        now = group.book_now
        if self.warming:
            self._warm(leg, group, now)
            return out
        for other in group.legs:
            if other is not leg:
                self._evaluate(leg, other, now, out)
                self._evaluate(other, leg, now, out)
        return out

    def _warm(self, leg: Leg, group: _Group, now: int) -> None:
        """The sampling schedule as the first run kept it: a pair with both books quoted was
        sampled at its first evaluation in each interval."""
        if not leg.quoted:
            return
        interval = self.config.sample_interval_ns
        next_sample = (now // interval + 1) * interval
        for other in group.legs:
            if other is not leg and other.quoted:
                for state in (leg.as_buyer[other], other.as_buyer[leg]):
                    if now >= state.next_sample_ts:
                        state.next_sample_ts = next_sample

    def _evaluate(self, buy: Leg, sell: Leg, now: int, out: list[Emitted]) -> None:
        counters = self.counters
        counters.evaluations += 1
        state = buy.as_buyer[sell]
        lifecycle = state.spread
        config = self.config
        gross: float | None = None
        mid = 0.0
        potential = sample_due = False
        if buy.quoted and sell.quoted:
            mid = (buy.mid + sell.mid) * 0.5
            gross = (sell.best_bid - buy.best_ask) / mid * BPS
            potential = gross - buy.fee_bps - sell.fee_bps >= config.open_bps
            sample_due = now >= state.next_sample_ts
            if not (potential or sample_due or lifecycle.active):
                return  # the fast path: a calm pair with nothing open and no sample due
        elif not lifecycle.active or buy.book_ts < 0 or sell.book_ts < 0:
            # Nothing to decide, or a leg never seen since start (e.g. an opportunity restored
            # after a restart, waiting for its books): no evidence either way yet.
            return
        blocked = guard_failure(buy, sell, now, gross, config)
        if blocked is not None and (potential or lifecycle.current is not None):
            counters.reject(blocked)
        value = None
        if gross is not None and blocked is None:
            # The smallest notional decides the lifecycle; the others are walked when published.
            value = executable_bps(buy, sell, mid, gross, config.notionals[0])[0]
        step = lifecycle.observe(
            now, value, blocked, self._spread_rules, f"{Kind.SPREAD}:{buy.key}>{sell.key}"
        )
        if step is None and not sample_due:
            return
        view = pair_view(buy, sell, now, config) if gross is not None else _bookless_view(buy, sell, now)
        if step is not None:
            self._emit(Kind.SPREAD, step, view, out)
        if sample_due:
            interval = config.sample_interval_ns
            state.next_sample_ts = (now // interval + 1) * interval
            counters.samples += 1
            out.append(SpreadSample(view, blocked or ""))

    def _evaluate_funding(self, buy: Leg, sell: Leg, now: int, out: list[Emitted]) -> None:
        long_quote, short_quote = buy.funding, sell.funding
        if long_quote is None or short_quote is None:
            return
        counters = self.counters
        counters.funding_evaluations += 1
        state = buy.as_buyer[sell]
        lifecycle = state.funding
        carry_bps = differential_apr(long_quote, short_quote) * BPS
        potential = carry_bps >= self.config.funding_open_apr_bps
        if not potential and not lifecycle.active:
            return
        max_age = self.config.funding_max_age_ns
        stale = now - long_quote.ts > max_age or now - short_quote.ts > max_age
        blocked = Guard.STALE_FUNDING.value if stale else None
        if blocked is not None:
            counters.reject(blocked)
        step = lifecycle.observe(
            now,
            None if blocked else carry_bps,
            blocked,
            self._funding_rules,
            state.funding_id,
        )
        if step is not None:
            quoted = buy.quoted and sell.quoted
            view = pair_view(buy, sell, now, self.config) if quoted else _bookless_view(buy, sell, now)
            self._emit(Kind.FUNDING, step, view, out)

    def _emit(self, kind: Kind, step: Step, view: PairView, out: list[Emitted]) -> None:
        counters = self.counters
        if step.transition is Transition.OPENED:
            counters.opened += 1
        elif step.transition is Transition.UPDATED:
            counters.updated += 1
        else:
            counters.closed += 1
        opportunity = step.opportunity
        qualified = None
        if kind is Kind.SPREAD:
            threshold = self.config.open_bps
            for fill in view.fills:
                if fill.spread_bps is not None and fill.spread_bps >= threshold:
                    qualified = fill.notional
        out.append(
            OpportunityEvent(
                kind=kind,
                transition=step.transition,
                opportunity_id=opportunity.opportunity_id,
                seq=opportunity.seq,
                ts=step.ts,
                first_seen_ts=opportunity.first_seen_ts,
                opened_ts=opportunity.opened_ts,
                value=opportunity.value,
                peak=opportunity.peak,
                peak_ts=opportunity.peak_ts,
                reason=step.reason,
                view=view,
                qualified_notional=qualified,
            )
        )


def guard_failure(buy: Leg, sell: Leg, now: int, gross_bps: float | None, config: ArbConfig) -> str | None:
    """The first guard that forbids trusting this pair now, or None."""
    if not (buy.quoted and sell.quoted):
        return Guard.INVALID_BOOK.value
    max_age = config.max_age_ns
    if now - buy.book_ts > max_age or now - sell.book_ts > max_age:
        return Guard.STALE.value
    if abs(buy.book_ts - sell.book_ts) > config.max_skew_ns:
        return Guard.SKEW.value
    if gross_bps is not None and gross_bps > config.sanity_cap_bps:
        return Guard.SANITY_CAP.value
    return None


def executable_bps(
    buy: Leg, sell: Leg, mid: float, gross_bps: float, notional: float
) -> tuple[float | None, float | None, float | None]:
    """(spread after fees, buy VWAP, sell VWAP) for one notional; the spread is None if too thin."""
    quantity = notional / mid
    buy_vwap = walk_vwap(buy.asks, quantity)
    sell_vwap = walk_vwap(sell.bids, quantity)
    if buy_vwap is None or sell_vwap is None:
        return None, buy_vwap, sell_vwap
    # A walk never fills better than the touch; the clamp also absorbs float rounding and a top
    # (book.bbo.v1) newer than the levels, always toward the worse price. In exact arithmetic the
    # result never exceeds gross - fees; the min keeps float rounding from ever reporting more.
    buy_vwap = max(buy_vwap, buy.best_ask)
    sell_vwap = min(sell_vwap, sell.best_bid)
    walked = (sell_vwap - buy_vwap) / mid * BPS - (buy.fee_bps + sell.fee_bps)
    return min(walked, gross_bps - buy.fee_bps - sell.fee_bps), buy_vwap, sell_vwap


def pair_view(buy: Leg, sell: Leg, now: int, config: ArbConfig) -> PairView:
    """Gross and executable spreads of buying on ``buy`` and selling on ``sell`` (both quoted)."""
    mid = (buy.mid + sell.mid) * 0.5
    gross = (sell.best_bid - buy.best_ask) / mid * BPS
    fills = tuple(Fill(n, *executable_bps(buy, sell, mid, gross, n)) for n in config.notionals)
    carry = None
    if buy.funding is not None and sell.funding is not None:
        carry = differential_apr(buy.funding, sell.funding)
    return PairView(
        ts=now,
        buy=_leg_view(buy),
        sell=_leg_view(sell),
        gross_bps=gross,
        mid=mid,
        fills=fills,
        differential_apr=carry,
    )


def _bookless_view(buy: Leg, sell: Leg, now: int) -> PairView:
    carry = None
    if buy.funding is not None and sell.funding is not None:
        carry = differential_apr(buy.funding, sell.funding)
    return PairView(now, _leg_view(buy), _leg_view(sell), None, None, (), carry)


def _leg_view(leg: Leg) -> LegView:
    return LegView(
        exchange=leg.exchange,
        symbol=leg.symbol,
        quote=leg.quote,
        fee_bps=leg.fee_bps,
        book_ts=leg.book_ts,
        best_bid=leg.best_bid,
        best_ask=leg.best_ask,
        funding=leg.funding,
    )
