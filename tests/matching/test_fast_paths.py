"""The engine's fast paths for plain limits and cancels emit exactly what the general path does.

A plain order (limit, GTC or IOC, no stop, no iceberg, no self-trade prevention, no price
band) rests and cancels without the touched-level bookkeeping.  Its twin with self-trade
prevention set, from an account that no other order uses so the prevention never fires,
takes the general path; both streams must give the same events and the same books.
"""

from hypothesis import given, settings
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
)
from services.matching.engine.book import Order
from services.matching.engine.constants import BUY, EXPIRE_MAKER, GTC, IOC, LIMIT, SELL, STP_NONE

SYMBOL = "T"


@st.composite
def plain_streams(draw: st.DrawFn) -> list[Command]:
    """Plain limits on a narrow band of prices (so orders rest at, below and through the
    top), cancels and amends of earlier ids, and some repeated ids; one account per id."""
    commands: list[Command] = []
    ids: list[str] = []
    for index in range(draw(st.integers(1, 80))):
        kind = draw(st.sampled_from(("limit", "limit", "limit", "ioc", "cancel", "cancel", "amend")))
        if kind in ("cancel", "amend") and ids:
            client_order_id = ids[draw(st.integers(0, len(ids) - 1))]
            if kind == "cancel":
                commands.append(CancelOrder(SYMBOL, f"acct-{client_order_id}", client_order_id))
            else:
                price = draw(st.none() | st.integers(95, 105))
                quantity = draw(st.none() | st.integers(1, 8))
                commands.append(
                    AmendOrder(SYMBOL, f"acct-{client_order_id}", client_order_id, price, quantity)
                )
            continue
        reused = bool(ids) and draw(st.integers(0, 9)) == 0
        client_order_id = ids[-1] if reused else f"o{index}"
        ids.append(client_order_id)
        commands.append(
            SubmitOrder(
                SYMBOL,
                f"acct-{client_order_id}",
                client_order_id,
                draw(st.sampled_from((BUY, SELL))),
                LIMIT,
                draw(st.integers(1, 8)),
                draw(st.integers(95, 105)),
                IOC if kind == "ioc" else GTC,
            )
        )
    return commands


def general_path_twin(command: Command) -> Command:
    if isinstance(command, SubmitOrder):
        assert command.stp == STP_NONE
        return SubmitOrder(
            command.symbol,
            command.account,
            command.client_order_id,
            command.side,
            command.order_type,
            command.quantity,
            command.price,
            command.tif,
            stp=EXPIRE_MAKER,
        )
    return command


def comparable(event: Event) -> tuple[object, ...]:
    """The event with each order replaced by its id (the twins' orders differ in ``stp``)."""
    return tuple(item.order_id if isinstance(item, Order) else item for item in event)


def run(commands: list[Command]) -> tuple[MatchingEngine, list[list[tuple[object, ...]]]]:
    engine = MatchingEngine()
    engine.process(AddSymbol(SymbolSpec(SYMBOL, 1, 0, 1, 0, 1, 100, 500)))
    return engine, [[comparable(event) for event in engine.process(command)] for command in commands]


@settings(max_examples=200, deadline=None)
@given(plain_streams())
def test_plain_orders_and_their_general_path_twins_give_the_same_events(commands: list[Command]) -> None:
    fast, fast_events = run(commands)
    general, general_events = run([general_path_twin(command) for command in commands])
    assert fast_events == general_events
    fast_book, general_book = fast.book(SYMBOL), general.book(SYMBOL)
    assert fast_book is not None
    assert general_book is not None
    assert fast_book.depth(100) == general_book.depth(100)
    assert fast_book.bbo == general_book.bbo
    assert fast_book.l2_seq == general_book.l2_seq
