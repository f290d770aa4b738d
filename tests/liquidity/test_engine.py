"""Sampling cadence, trade flow and update rate, and order independence of the engine's outputs."""

import random
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.book import BookDepth, BookStatus
from schemas.common import ExchangeId, Side
from schemas.market_data import Trade
from services.liquidity.core.detector import CrunchEvent, DetectorConfig, Verdict
from services.liquidity.core.engine import (
    Anomaly,
    BookId,
    EngineConfig,
    EngineOutput,
    LiquidityEngine,
    MetricSample,
    OutOfOrderBook,
)
from services.liquidity.core.windows import TradeWindow, UpdateRate
from tests.liquidity.simdata import Crunch, simulated_market

D = Decimal
S = 1_000_000_000
BOOK = BookId(ExchangeId.BINANCE_USDM, "BTC-USDT-PERP", "BTCUSDT")
BIDS = [(D("100.0"), D("1")), (D("99.9"), D("2"))]
ASKS = [(D("100.1"), D("1")), (D("100.2"), D("2"))]


def book(engine: LiquidityEngine, ts: int, seq: int, *, valid: bool = True) -> list[EngineOutput]:
    return engine.on_book(
        BOOK,
        ts=ts,
        receive_ts=ts + 1,
        book_seq=seq,
        venue_seq=seq,
        valid=valid,
        bids=BIDS if valid else [],
        asks=ASKS if valid else [],
    )


def trade(engine: LiquidityEngine, ts: int, buy: bool, base: str) -> list[MetricSample]:
    return engine.on_trade(BOOK, ts=ts, buy=buy, base=D(base), notional=D(base) * 100)


def samples(outputs: Sequence[EngineOutput]) -> list[MetricSample]:
    return [o for o in outputs if isinstance(o, MetricSample)]


# --- windows ------------------------------------------------------------------------------------

trades_strategy = st.lists(
    st.tuples(st.integers(0, 50), st.booleans(), st.integers(1, 100)), min_size=0, max_size=60
)


@given(
    trades=trades_strategy, queries=st.lists(st.tuples(st.integers(-5, 55), st.integers(0, 30)), max_size=10)
)
def test_trade_window_sums_equal_brute_force(
    trades: list[tuple[int, bool, int]], queries: list[tuple[int, int]]
) -> None:
    window = TradeWindow()
    for ts, buy, lots in trades:  # arrival order: mostly increasing, sometimes late
        window.add(ts, buy, D(lots), D(lots * 7))
    for until, width in queries:
        flow = window.flow(until - width, until)
        inside = [(buy, lots) for ts, buy, lots in trades if until - width < ts <= until]
        assert flow.trades == len(inside)
        assert flow.buy_base == sum(lots for buy, lots in inside if buy)
        assert flow.sell_notional == sum(lots * 7 for buy, lots in inside if not buy)


def test_trade_window_trim_keeps_later_trades() -> None:
    window = TradeWindow()
    for ts in range(100):
        window.add(ts, ts % 2 == 0, D(1), D(1))
    window.trim(79)
    assert len(window) == 20
    assert window.flow(79, 99).trades == 20
    assert window.flow(89, 99).buy_base == 5


def test_update_rate() -> None:
    rate = UpdateRate(10 * S)
    for n in range(30):
        rate.add(n * S // 2)  # two per second
    assert rate.per_second(14 * S + S // 2) == pytest.approx(2.0)


# --- sampling ------------------------------------------------------------------------------------


def test_one_sample_per_cadence_bucket_and_every_change_when_asked() -> None:
    engine = LiquidityEngine(EngineConfig(trade_grace_ns=0))
    for n in range(25):  # 100 ms apart: 2.5 s
        book(engine, n * S // 10, n)
    taken = samples(engine.flush_due() + engine.finish())
    assert [s.ts for s in taken] == [0, S, 2 * S]
    assert [s.book_seq for s in taken] == [0, 10, 20]
    every = LiquidityEngine(EngineConfig(every_change=True))
    for n in range(25):
        book(every, n * S // 10, n)
    assert len(samples(every.finish())) == 25


def test_a_sample_waits_for_the_trade_stream_to_pass_it() -> None:
    engine = LiquidityEngine(EngineConfig(flow_window_ns=10 * S))
    trade(engine, S // 2, True, "2")
    assert samples(book(engine, S, 1)) == []  # the trade stream is at 0.5 s: flow not known yet
    trade(engine, S, False, "1")
    out = samples(trade(engine, S + 1, True, "5"))  # passed: every trade <= 1 s is in
    assert len(out) == 1
    flow = out[0].flow
    assert (flow.buy_base, flow.sell_base, flow.trades) == (D(2), D(1), 2)  # not the 5 after it
    assert flow.imbalance == pytest.approx(1 / 3)
    assert out[0].flow.net_base == D(1)


def test_a_quiet_instrument_is_sampled_after_the_grace() -> None:
    engine = LiquidityEngine(EngineConfig(trade_grace_ns=2 * S))
    book(engine, 0, 0)
    book(engine, S, 1)
    assert samples(engine.flush_due()) == []
    book(engine, 2 * S, 2)
    [first] = samples(engine.flush_due())  # the book stream is 2 s past the first sample
    assert first.ts == 0
    assert first.flow.trades == 0
    assert first.flow.imbalance is None


def test_invalid_and_out_of_order_books() -> None:
    engine = LiquidityEngine(EngineConfig(trade_grace_ns=0))
    book(engine, 0, 0)
    assert book(engine, S, 1, valid=False) == []
    book(engine, S + 1, 2)  # valid again in the same bucket as the invalid message: sampled
    assert [s.ts for s in samples(engine.finish())] == [0, S + 1]
    with pytest.raises(OutOfOrderBook):
        book(engine, 5, 3)


def test_an_invalid_config_is_refused() -> None:
    with pytest.raises(ValueError, match="band"):
        EngineConfig(detector=DetectorConfig(band_bps=20))


def test_trades_without_a_book_do_not_grow_without_bound() -> None:
    engine = LiquidityEngine(EngineConfig(trade_retention_ns=10 * S))
    for n in range(1000):
        trade(engine, n * S // 10, True, "1")
    assert len(engine.books[BOOK.key].trades) <= 2 * 256  # 100 needed, trimmed every doubling


# --- order independence -----------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_any_interleaving_of_books_and_trades_gives_the_same_samples(seed: int) -> None:
    """Books and trades come from two topics: whatever their interleaving, each in its own order,
    the samples (flow included) are the same."""
    rng = random.Random(seed)
    books = [("book", n * S // 10) for n in range(60)]
    trades = sorted(("trade", rng.randrange(0, 6 * S)) for _ in range(80))
    config = EngineConfig(
        flow_window_ns=2 * S, detector=replace(DetectorConfig(), warmup=2, window=5, sustain=1, end_after=1)
    )

    def run(order: list[tuple[str, int]]) -> list[EngineOutput]:
        engine = LiquidityEngine(config)
        outputs: list[EngineOutput] = []
        for n, (kind, ts) in enumerate(order):
            if kind == "book":
                outputs += book(engine, ts, n)
            else:
                outputs += trade(engine, ts, ts % 3 == 0, str(1 + ts % 5))
        return outputs + engine.finish()

    def merged() -> list[tuple[str, int]]:
        a, b, out = list(books), list(trades), []
        while a or b:
            source = a if (a and (not b or rng.random() < 0.5)) else b
            out.append(source.pop(0))
        return out

    reference = sorted(samples(run(books + trades)), key=lambda s: s.ts)
    for _ in range(3):
        again = sorted(samples(run(merged())), key=lambda s: s.ts)
        assert [(s.ts, s.flow, s.verdict) for s in again] == [(s.ts, s.flow, s.verdict) for s in reference]


@lru_cache(maxsize=1)
def _sim_events() -> tuple[BookDepth | Trade, ...]:
    return tuple(simulated_market(900, crunch=Crunch(at_step=600, duration_s=5.0)))


def _verdicts_and_crunches(
    events: Sequence[BookDepth | Trade], config: EngineConfig
) -> tuple[list[tuple[int, Verdict]], list[CrunchEvent]]:
    engine = LiquidityEngine(config)
    outputs: list[EngineOutput] = []
    for event in events:
        if isinstance(event, BookDepth):
            outputs += engine.on_book(
                BOOK,
                ts=event.exchange_ts,
                receive_ts=event.receive_ts,
                book_seq=event.book_seq,
                venue_seq=event.venue_seq,
                valid=event.status is BookStatus.VALID,
                bids=event.bids,
                asks=event.asks,
            )
        else:
            outputs += engine.on_trade(
                BOOK,
                ts=event.exchange_ts,
                buy=event.side is Side.BUY,
                base=event.quantity,
                notional=event.notional,
            )
    outputs += engine.finish()
    verdicts = sorted(((o.ts, o.verdict) for o in outputs if isinstance(o, MetricSample)), key=lambda v: v[0])
    return verdicts, [o.event for o in outputs if isinstance(o, Anomaly)]


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(0, 1400))
def test_no_look_ahead_through_the_whole_engine(cut: int) -> None:
    """The same market cut short at any point: every verdict and crunch event up to the cut is the
    one the full run gives (the future books cannot reach back)."""
    config = EngineConfig(detector=replace(DetectorConfig(), warmup=20, window=40))
    events = _sim_events()
    full_verdicts, full_events = _verdicts_and_crunches(events, config)
    cut_verdicts, cut_events = _verdicts_and_crunches(events[:cut], config)
    assert full_verdicts[: len(cut_verdicts)] == cut_verdicts
    assert full_events[: len(cut_events)] == cut_events
    assert len(full_events) == 2  # the injected crunch started and ended in the full run
