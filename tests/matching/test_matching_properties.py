"""Property tests over random command streams (hypothesis).

* no crossed book after any command, and the published BBO matches the book;
* quantity is conserved: per order, filled + open + cancelled/expired = quantity, and
  fills add up to the trades;
* price-time priority: trades, events and every queue agree with a naive reference
  book (``reference_book.py``) after every command;
* replay from any snapshot reproduces the same events and state hash;
* the wire decoder never crashes on arbitrary JSON and every line gets a sequenced event.
"""

from collections import Counter
from dataclasses import dataclass
from typing import cast

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.matching.engine import (
    AddSymbol,
    AmendOrder,
    CancelOrder,
    Command,
    Event,
    MatchingEngine,
    SubmitOrder,
    SymbolSpec,
    decode_command,
    encode_event,
)
from services.matching.engine.constants import (
    BUY,
    EXPIRE_BOTH,
    EXPIRE_MAKER,
    EXPIRE_TAKER,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    POST_ONLY,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
    STP_NONE,
)
from services.matching.engine.events import (
    BBO,
    KIND,
    ORDER,
    ORDER_ORDER,
    ORDER_STATUS,
    REJECT,
    REJECT_REASON,
    SEQ,
    TRADE,
    OrderEvent,
    RejectEvent,
    TradeEvent,
)
from services.matching.runner import run_commands
from tests.matching import reference_book as ref

SYMBOL = "T"
ACCOUNTS = ("A", "B", "C")
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def new_engine() -> MatchingEngine:
    engine = MatchingEngine()
    # One tick = one lot = 1, maker 1 bp, taker 5 bps, no band.
    engine.process(AddSymbol(SymbolSpec(SYMBOL, 1, 0, 1, 0, 1, 100, 500)))
    return engine


# Command streams ---------------------------------------------------------------------


@st.composite
def command_streams(draw: st.DrawFn, with_stops: bool = True, max_size: int = 60) -> list[Command]:
    """Random but plausible streams: prices in a narrow band so orders meet, three
    accounts so self-trade prevention fires, cancels and amends aimed at earlier ids."""
    size = draw(st.integers(1, max_size))
    submitted: list[tuple[str, str]] = []
    commands: list[Command] = []
    kinds = ["limit", "limit", "limit", "ioc", "fok", "post_only", "market", "iceberg", "cancel", "amend"]
    if with_stops:
        kinds += ["stop_market", "stop_limit"]
    for index in range(size):
        kind = draw(st.sampled_from(kinds))
        if kind in ("cancel", "amend") and submitted:
            account, client_order_id = submitted[draw(st.integers(0, len(submitted) - 1))]
            if kind == "cancel":
                commands.append(CancelOrder(SYMBOL, account, client_order_id))
            else:
                price = draw(st.none() | st.integers(95, 105))
                quantity = draw(st.none() | st.integers(1, 8))
                commands.append(AmendOrder(SYMBOL, account, client_order_id, price, quantity))
            continue
        account = draw(st.sampled_from(ACCOUNTS))
        # Occasionally reuse an id to exercise duplicate rejection.
        if submitted and draw(st.integers(0, 19)) == 0:
            account, client_order_id = submitted[draw(st.integers(0, len(submitted) - 1))]
        else:
            client_order_id = f"o{index}"
        side = draw(st.sampled_from((BUY, SELL)))
        quantity = draw(st.integers(1, 6))
        stp = draw(st.sampled_from((STP_NONE, STP_NONE, EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH)))
        price = draw(st.integers(95, 105))
        display = None
        stop = None
        if kind in ("limit", "cancel", "amend"):  # cancel/amend before any submit: a limit
            order_type, tif = LIMIT, GTC
        elif kind == "ioc":
            order_type, tif = LIMIT, IOC
        elif kind == "fok":
            order_type, tif = LIMIT, FOK
        elif kind == "post_only":
            order_type, tif = LIMIT, POST_ONLY
        elif kind == "iceberg":
            order_type, tif = LIMIT, draw(st.sampled_from((GTC, POST_ONLY)))
            display = draw(st.integers(1, quantity))
        elif kind == "market":
            order_type, tif, price = MARKET, draw(st.sampled_from((IOC, FOK))), None
        elif kind == "stop_market":
            order_type, tif, price = STOP_MARKET, IOC, None
            stop = draw(st.integers(93, 107))
        else:
            assert kind == "stop_limit"
            order_type, tif = STOP_LIMIT, draw(st.sampled_from((GTC, IOC)))
            stop = draw(st.integers(93, 107))
        submitted.append((account, client_order_id))
        commands.append(
            SubmitOrder(
                SYMBOL, account, client_order_id, side, order_type, quantity, price, tif, stop, display, stp
            )
        )
    return commands


# Invariant checks --------------------------------------------------------------------


def assert_book_consistent(engine: MatchingEngine) -> None:
    book = engine.book(SYMBOL)
    assert book is not None
    best_bid, best_ask = book.best_bid(), book.best_ask()
    if best_bid is not None and best_ask is not None:
        assert best_bid < best_ask, f"crossed book: bid {best_bid} >= ask {best_ask}"
    assert book.bid_keys == sorted(book.bid_keys)
    assert book.ask_keys == sorted(book.ask_keys)
    for levels in (book.bids, book.asks):
        for price, level in levels.items():
            assert level.orders, f"empty level left at {price}"
            assert level.visible == sum(o.visible for o in level.orders.values())
            for order in level.orders.values():
                assert order.price == price
                assert 0 < order.visible <= order.quantity - order.filled
    bid_qty = book.bids[best_bid].visible if best_bid is not None else 0
    ask_qty = book.asks[best_ask].visible if best_ask is not None else 0
    assert book.bbo == (best_bid or 0, bid_qty, best_ask or 0, ask_qty), "published BBO is stale"


@dataclass
class OrderLedger:
    quantity: int = 0
    filled: int = 0
    remaining: int = 0
    cancelled: int = 0
    traded: int = 0
    terminal: bool = False


def check_stream(commands: list[Command]) -> MatchingEngine:
    """Run ``commands``, checking the per-command invariants; returns the engine."""
    engine = new_engine()
    ledgers: dict[int, OrderLedger] = {}
    last_seq = engine.seq
    for command in commands:
        events = engine.process(command)
        assert events, "every command must produce an event"
        assert [e[SEQ] for e in events] == list(range(last_seq + 1, last_seq + 1 + len(events)))
        last_seq = engine.seq
        for event in events:
            if event[KIND] == ORDER:
                _, _, order, status, _, quantity, filled, remaining, _ = cast(OrderEvent, event)
                ledger = ledgers.setdefault(order.order_id, OrderLedger())
                assert not ledger.terminal, f"event after terminal state for {order.client_order_id}"
                ledger.quantity, ledger.filled, ledger.remaining = quantity, filled, remaining
                if status in ("filled", "cancelled", "expired"):
                    ledger.terminal = True
                    ledger.cancelled = ledger.quantity - ledger.filled if status != "filled" else 0
                    assert ledger.remaining == 0
                else:
                    assert ledger.filled + ledger.remaining == ledger.quantity
                assert ledger.filled + ledger.remaining + ledger.cancelled == ledger.quantity
            elif event[KIND] == TRADE:
                _, _, _, maker, taker, _, quantity, _, _ = cast(TradeEvent, event)
                assert quantity > 0
                for party in (maker, taker):
                    ledgers.setdefault(party.order_id, OrderLedger()).traded += quantity
        assert_book_consistent(engine)
    for order_id, ledger in ledgers.items():
        assert ledger.traded == ledger.filled, (
            f"order {order_id}: trades {ledger.traded} != filled {ledger.filled}"
        )
    # Every working order in the engine agrees with its last event.
    for order in engine.live_orders():
        ledger = ledgers[order.order_id]
        assert not ledger.terminal
        assert (order.quantity, order.filled) == (ledger.quantity, ledger.filled)
    return engine


@PROPERTY_SETTINGS
@given(command_streams())
def test_invariants_hold_on_random_streams(commands: list[Command]) -> None:
    check_stream(commands)


# Differential price-time priority ------------------------------------------------------


def engine_outcome(events: list[Event]) -> ref.RefOutcome:
    outcome = ref.RefOutcome()
    for event in events:
        if event[KIND] == REJECT:
            outcome.rejected = cast(RejectEvent, event)[REJECT_REASON]
        elif event[KIND] == ORDER:
            order_event = cast(OrderEvent, event)
            outcome.order_events.append((order_event[ORDER_ORDER].client_order_id, order_event[ORDER_STATUS]))
        elif event[KIND] == TRADE:
            _, _, _, maker, taker, price, quantity, _, _ = cast(TradeEvent, event)
            outcome.trades.append((maker.client_order_id, taker.client_order_id, price, quantity))
    return outcome


def engine_queues(engine: MatchingEngine) -> dict[int, list[tuple[int, list[tuple[str, str, int, int]]]]]:
    book = engine.book(SYMBOL)
    assert book is not None
    result = {}
    for side, levels, prices in (
        (BUY, book.bids, list(reversed(book.bid_keys))),
        (SELL, book.asks, [-key for key in reversed(book.ask_keys)]),
    ):
        result[side] = [
            (
                price,
                [
                    (o.account, o.client_order_id, o.visible, o.quantity - o.filled)
                    for o in levels[price].orders.values()
                ],
            )
            for price in prices
        ]
    return result


def apply_to_reference(book: ref.ReferenceBook, command: Command) -> ref.RefOutcome:
    if isinstance(command, SubmitOrder):
        return book.submit(
            ref.RefOrder(
                command.account,
                command.client_order_id,
                command.side,
                command.price,
                command.quantity,
                command.tif,
                command.display_quantity or 0,
                command.stp,
            )
        )
    if isinstance(command, CancelOrder):
        return book.cancel(command.account, command.client_order_id)
    assert isinstance(command, AmendOrder)
    return book.amend(command.account, command.client_order_id, command.price, command.quantity)


@PROPERTY_SETTINGS
@given(command_streams(with_stops=False))
def test_price_time_priority_matches_reference_book(commands: list[Command]) -> None:
    engine = new_engine()
    reference = ref.ReferenceBook()
    for step, command in enumerate(commands):
        got = engine_outcome(engine.process(command))
        want = apply_to_reference(reference, command)
        assert got == want, f"step {step}: engine {got} != reference {want}"
        assert engine_queues(engine) == reference.queues(), f"step {step}: queues differ"


def test_reference_book_agrees_on_a_known_case() -> None:
    """Guard against a reference model that is wrong in the same way as the engine."""
    reference = ref.ReferenceBook()
    reference.submit(ref.RefOrder("A", "a1", ref.SELL, 100, 2))
    reference.submit(ref.RefOrder("B", "a2", ref.SELL, 99, 1))
    reference.submit(ref.RefOrder("C", "a3", ref.SELL, 100, 2))
    outcome = reference.submit(ref.RefOrder("D", "t", ref.BUY, 100, 4))
    assert outcome.trades == [("a2", "t", 99, 1), ("a1", "t", 100, 2), ("a3", "t", 100, 1)]


# Snapshots ---------------------------------------------------------------------------


def wire(engine: MatchingEngine, events: list[Event]) -> list[dict[str, object]]:
    return [encode_event(event, engine.symbols) for event in events]


@PROPERTY_SETTINGS
@given(command_streams(), st.data())
def test_replay_from_any_snapshot_gives_same_state(commands: list[Command], data: st.DataObject) -> None:
    split = data.draw(st.integers(0, len(commands)), label="snapshot after command")
    engine = new_engine()
    for command in commands[:split]:
        engine.process(command)
    snapshot = engine.snapshot()
    # Through JSON and back: the snapshot must be plain data.
    restored = MatchingEngine.restore(orjson.loads(orjson.dumps(snapshot)))
    assert restored.snapshot() == snapshot
    assert restored.state_hash() == engine.state_hash()
    for command in commands[split:]:
        assert wire(restored, restored.process(command)) == wire(engine, engine.process(command))
    assert restored.state_hash() == engine.state_hash()
    assert restored.seq == engine.seq


@PROPERTY_SETTINGS
@given(command_streams())
def test_processing_is_deterministic(commands: list[Command]) -> None:
    first, second = new_engine(), new_engine()
    for command in commands:
        assert wire(first, first.process(command)) == wire(second, second.process(command))
    assert first.state_hash() == second.state_hash()


def test_state_hash_changes_with_state() -> None:
    engine = new_engine()
    before = engine.state_hash()
    engine.process(SubmitOrder(SYMBOL, "A", "x", BUY, LIMIT, 1, 100))
    assert engine.state_hash() != before


# Wire robustness ---------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_values = st.none() | st.integers(-5, 10**20) | st.floats() | st.text(max_size=6) | st.sampled_from(
    ["buy", "sell", "limit", "market", "stop_market", "stop_limit", "GTC", "IOC", "FOK", "POST_ONLY",
     "expire_taker", "expire_maker", "expire_both", "100.0", "0.001", "1", "0", "-1", "1e3", "T", "A", "o1"]
)  # fmt: skip
command_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["submit", "cancel", "amend", "add_symbol", "bogus"])},
    optional=dict.fromkeys(("symbol", "account", "client_order_id", "side", "order_type", "tif", "price", "quantity", "stop_price", "display_quantity", "stp", "tick_size", "lot_size", "min_qty", "maker_fee_bps", "taker_fee_bps", "price_band_bps", "reference_price"), field_values),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values | command_like, max_size=25))
def test_decoder_never_crashes(values: list[object]) -> None:
    engine = new_engine()
    for value in values:
        before = engine.seq
        events = engine.process(decode_command(value, engine.symbols))
        assert events
        assert engine.seq == before + len(events)
        for event in events:
            encode_event(event, engine.symbols)
    assert_book_consistent(engine)


def test_runner_answers_garbage_lines() -> None:
    lines = [b"not json", b"[1,2]", b"\xff\xfe", b'{"type": "submit"}', b"  ", b"# comment"]
    events = list(run_commands(lines))
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert all(e["status"] == "rejected" for e in events)
    assert Counter(e["reason"] for e in events)["invalid_json"] == 2


def test_bbo_events_carry_the_book_top() -> None:
    engine = new_engine()
    events = engine.process(SubmitOrder(SYMBOL, "A", "x", BUY, LIMIT, 3, 100))
    bbo = [e for e in events if e[KIND] == BBO]
    assert len(bbo) == 1
    assert bbo[0][3:7] == (100, 3, 0, 0)
