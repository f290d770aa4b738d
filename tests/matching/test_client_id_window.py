"""Client order ids: a duplicate while working or in the window of recent ids; memory bounded."""

from services.matching.engine import MatchingEngine
from services.matching.engine.commands import AddSymbol, CancelOrder, SubmitOrder
from services.matching.engine.constants import BUY, LIMIT
from services.matching.engine.events import ORDER, REJECT, Event
from services.matching.engine.symbols import SymbolSpec

SYMBOL = "T"


def new_engine(window: int) -> MatchingEngine:
    engine = MatchingEngine(client_id_window=window)
    engine.process(AddSymbol(SymbolSpec(SYMBOL, 1, 0, 1, 0, 1, 100, 500)))
    return engine


def submit(engine: MatchingEngine, client_order_id: str) -> list[Event]:
    return engine.process(SubmitOrder(SYMBOL, "A", client_order_id, BUY, LIMIT, 1, 100))


def rejected(events: list[Event]) -> bool:
    return events[0][0] == REJECT


def accepted(events: list[Event]) -> bool:
    return events[0][0] == ORDER


def test_an_id_is_a_duplicate_within_the_window_and_free_after_it() -> None:
    engine = new_engine(window=3)
    for name in ("a", "b", "c"):
        assert accepted(submit(engine, name))
        engine.process(CancelOrder(SYMBOL, "A", name))
    assert rejected(submit(engine, "a"))  # still among the last 3 accepted
    assert accepted(submit(engine, "d"))  # "a" leaves the window
    assert accepted(submit(engine, "a"))


def test_a_working_order_id_stays_a_duplicate_however_old() -> None:
    engine = new_engine(window=2)
    assert accepted(submit(engine, "resting"))
    for i in range(5):
        assert accepted(submit(engine, f"x{i}"))
    assert rejected(submit(engine, "resting"))


def test_snapshots_keep_the_window_in_acceptance_order() -> None:
    engine = new_engine(window=3)
    for name in ("c", "a", "b"):
        submit(engine, name)
        engine.process(CancelOrder(SYMBOL, "A", name))
    snapshot = engine.snapshot()
    # Oldest first, so a restored venue forgets "c" first, as this one will.
    assert snapshot["used_client_order_ids"] == [["A", "c"], ["A", "a"], ["A", "b"]]
    restored = MatchingEngine.restore(snapshot)
    assert restored.state_hash() == engine.state_hash()
    assert rejected(submit(restored, "c"))


def test_memory_of_ids_is_bounded_by_the_window() -> None:
    engine = new_engine(window=100)
    for i in range(1000):
        submit(engine, f"id{i}")
        engine.process(CancelOrder(SYMBOL, "A", f"id{i}"))
    assert len(engine.snapshot()["used_client_order_ids"]) == 100  # type: ignore[arg-type]
