"""Bars: equal to an independent pandas resample on the real capture; dedupe, gaps, grace, late."""

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.market_data import Trade
from services.analytics.core.bars import Bar, BarRollup, InstrumentBars, TradeVerdict

S = 1_000_000_000


def run(trades: list[Trade], intervals_s: tuple[int, ...], grace_ms: int = 0) -> dict[int, list[Bar]]:
    bars = InstrumentBars((i * S for i in intervals_s), grace_ns=grace_ms * 1_000_000)
    out: dict[int, list[Bar]] = {i * S: [] for i in intervals_s}
    for t in trades:
        result = bars.on_trade(
            t.trade_id, t.exchange_ts, t.price, t.quantity, t.notional, t.side.value == "buy"
        )
        assert result.verdict is not TradeVerdict.LATE, result.reason
        for bar in result.closed:
            out[bar.interval_ns].append(bar)
    return out


@pytest.mark.data
@pytest.mark.parametrize("interval_s", [1, 60])
def test_real_capture_bars_equal_a_pandas_resample(binance_trades: list[Trade], interval_s: int) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime([t.exchange_ts for t in binance_trades], unit="ns"),
            "price": [t.price for t in binance_trades],
            "qty": [t.quantity for t in binance_trades],
        }
    ).sort_values("ts", kind="stable")
    resampled = frame.set_index("ts").resample(f"{interval_s}s")
    expected = pd.DataFrame(
        {
            "open": resampled["price"].first(),
            "high": resampled["price"].max(),
            "low": resampled["price"].min(),
            "close": resampled["price"].last(),
            "volume": resampled["qty"].sum(),
            "count": resampled["price"].count(),
        }
    )
    # pandas leaves empty intervals NaN: our bars carry the previous close there.
    expected["close"] = expected["close"].ffill()
    for column in ("open", "high", "low"):
        expected[column] = expected[column].fillna(expected["close"])
    built = run(binance_trades, (interval_s,))[interval_s * S]
    # Only closed bars are emitted: the last bar of the capture is still open at its end.
    expected = expected.iloc[: len(built)]
    assert len(built) == len(expected) >= (3 if interval_s == 60 else 300)
    mismatches = []
    for bar, (ts, row) in zip(built, expected.iterrows(), strict=True):
        got = (bar.start_ns, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count)
        want = (ts.value, row.open, row.high, row.low, row.close, Decimal(row.volume), int(row["count"]))
        if got != want:
            mismatches.append((got, want))
    assert mismatches == []
    assert sum(b.trade_count for b in built) <= len(binance_trades)


@pytest.mark.data
def test_real_capture_short_bars_sum_to_long_ones(binance_trades: list[Trade]) -> None:
    out = run(binance_trades, (1, 60, 300), grace_ms=2000)
    seconds, minutes = out[S], out[60 * S]
    for minute in minutes:
        inside = [b for b in seconds if minute.start_ns <= b.start_ns < minute.end_ns]
        # The capture starts mid-minute: its first minute has only the seconds since then.
        assert len(inside) == (60 if minute is not minutes[0] else (minute.end_ns - seconds[0].start_ns) // S)
        assert sum(b.volume for b in inside) == minute.volume
        assert sum(b.buy_volume for b in inside) + sum(b.sell_volume for b in inside) == minute.volume
        assert sum(b.trade_count for b in inside) == minute.trade_count
        assert inside[0].open == minute.open
        assert inside[-1].close == minute.close


@pytest.mark.data
def test_resent_trades_are_counted_once(binance_trades: list[Trade]) -> None:
    head = binance_trades[:3000]
    resent = head[:1500] + head[1000:1500] + head[1500:]  # a resubscribe replays 500 recent trades
    once = run(head, (1, 60))
    twice = run(resent, (1, 60))
    assert once == twice


def t(
    trade_id: str, ts_ms: int, price: str, qty: str = "1", side: str = "buy"
) -> tuple[str, int, Decimal, Decimal, Decimal, bool]:
    p, q = Decimal(price), Decimal(qty)
    return trade_id, ts_ms * 1_000_000, p, q, p * q, side == "buy"


def test_an_empty_interval_carries_the_previous_close() -> None:
    bars = InstrumentBars([S], grace_ns=0)
    bars.on_trade(*t("1", 100, "10"))
    bars.on_trade(*t("2", 900, "12", side="sell"))
    closed = bars.on_trade(*t("3", 3500, "11")).closed
    assert [(b.start_ns, b.close, b.volume, b.trade_count) for b in closed] == [
        (0, Decimal(12), Decimal(2), 2),
        (S, Decimal(12), Decimal(0), 0),
        (2 * S, Decimal(12), Decimal(0), 0),
    ]
    assert closed[0].buy_volume == 1
    assert closed[0].sell_volume == 1
    assert closed[1].open == closed[1].high == closed[1].low == Decimal(12)


def test_a_late_trade_inside_the_grace_amends_its_bar_and_after_it_is_rejected() -> None:
    bars = InstrumentBars([S], grace_ns=500_000_000)
    bars.on_trade(*t("1", 100, "10"))
    assert bars.on_trade(*t("2", 1200, "11")).closed == []  # bar 0 waits for the grace period
    amended = bars.on_trade(*t("3", 400, "9"))  # 800 ms late, but inside the 500 ms grace after 1 s
    assert amended.verdict is TradeVerdict.ACCEPTED
    closed = bars.on_trade(*t("4", 1600, "11")).closed
    assert [(b.open, b.low, b.close, b.trade_count) for b in closed] == [
        (Decimal(10), Decimal(9), Decimal(9), 2)
    ]
    late = bars.on_trade(*t("5", 900, "8"))
    assert late.verdict is TradeVerdict.LATE
    assert "already emitted" in late.reason
    assert "late (or resent) trade 5" in late.reason
    assert bars.late == 1


def test_a_long_silence_is_skipped_not_filled() -> None:
    bars = InstrumentBars([S], grace_ns=0, max_gap_bars=10)
    bars.on_trade(*t("1", 0, "10"))
    closed = bars.on_trade(*t("2", 100_000, "11")).closed
    assert [b.start_ns for b in closed] == [0]
    closed = bars.on_trade(*t("3", 101_000, "12")).closed
    assert [b.start_ns for b in closed] == [100 * S]


def test_checkpoint_round_trip_continues_identically() -> None:
    trades = [t(str(i), i * 137, str(100 + i % 7)) for i in range(200)]
    whole = InstrumentBars([S, 60 * S], grace_ns=300_000_000)
    split = InstrumentBars([S, 60 * S], grace_ns=300_000_000)
    expected = [whole.on_trade(*x).closed for x in trades]
    got = [split.on_trade(*x).closed for x in trades[:90]]
    resumed = InstrumentBars([S, 60 * S], grace_ns=300_000_000)
    resumed.restore(split.to_state())
    got += [resumed.on_trade(*x).closed for x in trades[90:]]
    assert got == expected


def test_rollup_of_five_minute_bars_gives_fifteen_minute_bars() -> None:
    rollup = BarRollup(900 * S)
    five = [
        Bar(
            300 * S,
            i * 300 * S,
            Decimal(10 + i),
            Decimal(20 + i),
            Decimal(5 + i),
            Decimal(11 + i),
            Decimal(1),
            Decimal(10),
            Decimal(1),
            Decimal(0),
            1,
            i,
            i,
        )
        for i in range(6)
    ]
    done = [b for bar in five for b in rollup.add(bar)]
    assert [(b.start_ns, b.open, b.high, b.low, b.close, b.volume, b.trade_count) for b in done] == [
        (0, Decimal(10), Decimal(22), Decimal(5), Decimal(13), Decimal(3), 3),
        (900 * S, Decimal(13), Decimal(25), Decimal(8), Decimal(16), Decimal(3), 3),
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20_000), st.integers(1, 50), st.integers(1, 9), st.booleans()),
        min_size=1,
        max_size=120,
    ),
    st.integers(0, 1500),
)
def test_bars_conserve_every_accepted_trade(raw: list[tuple[int, int, int, bool]], grace_ms: int) -> None:
    """Whatever the arrival order, every accepted trade lands in exactly one bar per interval,
    bars are final in order and contiguous, and a late trade changes nothing."""
    bars = InstrumentBars([S, 5 * S], grace_ns=grace_ms * 1_000_000)
    emitted: dict[int, list[Bar]] = {S: [], 5 * S: []}
    accepted = Decimal(0)
    for i, (ts_ms, price, qty, buy) in enumerate(raw):
        result = bars.on_trade(
            str(i), ts_ms * 1_000_000, Decimal(price), Decimal(qty), Decimal(price * qty), buy
        )
        if result.verdict is TradeVerdict.ACCEPTED:
            accepted += qty
        for bar in result.closed:
            emitted[bar.interval_ns].append(bar)
    for interval, series in emitted.items():
        starts = [b.start_ns for b in series]
        assert starts == sorted(starts)
        assert all(b - a == interval for a, b in itertools.pairwise(starts))
        still_open = sum((b.volume for b in bars.open_bars() if b.interval_ns == interval), Decimal(0))
        assert sum((b.volume for b in series), Decimal(0)) + still_open == accepted
        for bar in series:
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
            assert bar.buy_volume + bar.sell_volume == bar.volume


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 300_000), st.integers(1, 50), st.integers(1, 9)), min_size=1, max_size=80
    ),
    st.lists(st.tuples(st.integers(0, 79), st.integers(0, 80)), max_size=30),
    st.integers(0, 30),
)
def test_resent_trades_never_change_a_bar(
    raw: list[tuple[int, int, int]], resends: list[tuple[int, int]], window_s: int
) -> None:
    """A venue resending trades (any of them, any time later) yields exactly the bars without the resends."""
    trades = [
        (str(i), ts_ms * 1_000_000, Decimal(p), Decimal(q), Decimal(p * q), i % 2 == 0)
        for i, (ts_ms, p, q) in enumerate(raw)
    ]
    stream = []
    for position, trade in enumerate(trades):
        stream.append(trade)
        # A resend comes after its original: at this position, of any trade already sent.
        stream += [trades[which] for which, at in resends if at == position and which <= position]
    plain, resent = (
        InstrumentBars([S, 60 * S], grace_ns=500_000_000, dedupe_window_ns=window_s * S) for _ in range(2)
    )
    expected = [b for t in trades for b in plain.on_trade(*t).closed]
    got = [b for t in stream for b in resent.on_trade(*t).closed]
    assert got == expected
    assert resent.open_bars() == plain.open_bars()
