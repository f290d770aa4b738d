"""Issue 15, class 5: the venue publishes every book's full depth on the compacted
``venue.depth.v1`` at start and now and then, so that the gateway's depth is complete after
``venue.md.v1``'s retention dropped the first ``l2`` updates (``l2_seq`` 1, 2, ...)."""

import orjson
import pytest
from pydantic import TypeAdapter

from schemas.venue import VenueDepth, VenueMarketData
from services.matching.engine import MatchingEngine, decode_command, encode_event
from services.matching.engine.wire import encode_depth
from services.matching.gateway.market import MarketData
from services.matching.service import MatchingService
from services.matching.workload import SYMBOL, venue_commands
from services.runtime.settings import Settings

MARKET_DATA = TypeAdapter(VenueMarketData)
DEPTH = TypeAdapter(VenueDepth)


def _run(count: int) -> tuple[MatchingEngine, list[bytes]]:
    """An engine after ``count`` workload commands, and its venue.md.v1 records (l2 and bbo)."""
    engine = MatchingEngine()
    records = []
    for command in venue_commands(count):
        for event in engine.process(decode_command(command, engine.symbols)):
            wire = encode_event(event, engine.symbols)
            if wire["kind"] in ("l2", "bbo"):
                records.append(orjson.dumps(wire))
    return engine, records


def test_the_depth_record_is_the_engine_book_and_fits_the_contract() -> None:
    engine, _ = _run(2000)
    book = engine.book(SYMBOL)
    assert book is not None
    record = encode_depth(book, engine.seq)
    parsed = DEPTH.validate_python(record)
    # venue.md.v1's contract is unchanged: its readers never meet a third kind.
    with pytest.raises(ValueError, match="kind"):
        MARKET_DATA.validate_python(record)
    bids, asks = book.depth(10_000)
    spec = book.spec
    assert [(lv.price, lv.quantity) for lv in parsed.bids] == [
        (spec.format_price(p), spec.format_quantity(q)) for p, q in bids if q
    ]
    assert [(lv.price, lv.quantity) for lv in parsed.asks] == [
        (spec.format_price(p), spec.format_quantity(q)) for p, q in asks if q
    ]
    assert (parsed.l2_seq, parsed.seq) == (book.l2_seq, engine.seq)
    prices = [float(lv.price) for lv in parsed.bids]
    assert prices == sorted(prices, reverse=True)


def test_the_gateway_is_complete_again_after_retention_from_a_depth_record() -> None:
    """The gateway reads a topic whose first half was dropped: incomplete until the depth record,
    then exact, and it follows the later l2 updates from there."""
    _, records = _run(3000)
    full = MarketData()
    for record in records:
        full.apply_market_data(record)
    expected = full.book(SYMBOL)
    assert expected is not None

    # The same stream, cut: the second half only, with a depth record published in between.
    engine_mid, records_mid = _run(1500)
    book_mid = engine_mid.book(SYMBOL)
    assert book_mid is not None
    depth_record = orjson.dumps(encode_depth(book_mid, engine_mid.seq))
    later = records[len(records_mid) :]
    cut = MarketData()
    for record in records_mid[-50:]:  # retention kept only the end of the first half
        cut.apply_market_data(record)
    book = cut.book(SYMBOL)
    assert book is not None
    assert not book.complete
    cut.apply_depth(depth_record)
    assert book.complete
    assert book.l2_seq == book_mid.l2_seq
    for record in later:
        cut.apply_market_data(record)
    levels = max(len(expected.bids), len(expected.asks))
    assert book.depth(levels) == expected.depth(levels)
    assert book.complete

    # The feed's own order at start: venue.depth.v1 first, then venue.md.v1 from its first record.
    ordered = MarketData()
    ordered.apply_depth(depth_record)
    for record in [*records_mid[-50:], *later]:  # the updates the depth includes are skipped
        ordered.apply_market_data(record)
    book = ordered.book(SYMBOL)
    assert book is not None
    assert book.complete
    assert book.depth(levels) == expected.depth(levels)


def test_a_depth_record_is_not_forwarded_and_an_older_one_changes_nothing() -> None:
    engine, records = _run(500)
    market = MarketData()
    for record in records:
        market.apply_market_data(record)
    subscriber, _ = market.subscribe("md", SYMBOL)
    book = market.book(SYMBOL)
    assert book is not None
    before = book.depth(1000)
    stale = {**encode_depth(engine.book(SYMBOL), engine.seq), "l2_seq": 1, "bids": [], "asks": []}  # type: ignore[arg-type]
    market.apply_depth(orjson.dumps(stale))
    assert book.depth(1000) == before
    assert subscriber._queue.empty()


def test_the_service_publishes_one_depth_record_per_book_keyed_by_symbol() -> None:
    engine, _ = _run(300)
    service = MatchingService(Settings(topic_namespace="t.", metrics_port=0))
    [(topic, value, key)] = service._depth_records(engine)
    assert (topic, key) == ("t.venue.depth.v1", SYMBOL.encode())
    assert orjson.loads(value)["kind"] == "depth"
    assert service._depth_records(MatchingEngine()) == []


def test_a_book_too_deep_for_one_record_is_skipped_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    import services.matching.service as service_module

    engine, _ = _run(300)
    monkeypatch.setattr(service_module, "MAX_DEPTH_RECORD_BYTES", 10)
    service = MatchingService(Settings(topic_namespace="t.", metrics_port=0))
    assert service._depth_records(engine) == []
