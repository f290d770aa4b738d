"""The shell: contracts in, contracts and rows out; settings, fee files, restore, offline analysis."""

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from schemas.arbitrage import ArbOpportunity, ArbSpread, OpportunityEventType
from schemas.book import BookDepth, BookStatus, BookTop
from schemas.common import ExchangeId
from schemas.market_data import Funding
from schemas.topics import topic
from services.arbitrage.core.engine import Kind
from services.arbitrage.core.fees import FeeDocumentError
from services.arbitrage.events import ARB_OPPORTUNITIES, ARB_SPREADS
from services.arbitrage.service import (
    ArbitrageProcessor,
    ArbitrageSettings,
    build_processor,
    default_fees,
    load_fees,
    parse_notionals,
)
from services.runtime.offline import analyze
from services.runtime.service import Output, RejectedInput

T0 = 1_723_161_256_000_000_000
MS = 1_000_000
SYMBOL = "BTC-USDT-PERP"
VENUES = {ExchangeId.OKX: "BTC-USDT-SWAP", ExchangeId.BYBIT: "BTCUSDT"}


def _depth(exchange: ExchangeId, ts: int, mid: float, *, valid: bool = True) -> BookDepth:
    levels = (
        [(Decimal(str(mid - 0.05 - k / 10)), Decimal("2")) for k in range(5)],
        [(Decimal(str(mid + 0.05 + k / 10)), Decimal("2")) for k in range(5)],
    )
    return BookDepth(
        exchange=exchange,
        symbol=SYMBOL,
        native_symbol=VENUES[exchange],
        exchange_ts=ts,
        receive_ts=ts + MS,
        status=BookStatus.VALID if valid else BookStatus.INVALID,
        reason="" if valid else "gap",
        book_seq=1,
        venue_seq=7,
        depth=5,
        bids=levels[0] if valid else [],
        asks=levels[1] if valid else [],
    )


def _record(
    event: BookDepth | BookTop | Funding, topic_name: str, offset: int = 0
) -> ConsumerRecord[bytes, bytes]:
    raw = event.model_dump_json().encode()
    return ConsumerRecord(topic_name, 0, offset, 0, 0, event.key.encode(), raw, None, 0, len(raw), ())


def _processor(**settings: object) -> ArbitrageProcessor:
    defaults: dict[str, object] = {"restore": False, "persist_evaluations": 1, "notionals": "10000,100000"}
    defaults.update(settings)
    return build_processor(ArbitrageSettings(**defaults))  # type: ignore[arg-type]


def test_books_in_opportunity_and_sample_out_with_matching_rows() -> None:
    processor = _processor()
    out = Output()
    processor.handle(
        _record(_depth(ExchangeId.OKX, T0, 60_000.0), "book.l2.v1"), _depth(ExchangeId.OKX, T0, 60_000.0), out
    )
    dear = _depth(ExchangeId.BYBIT, T0 + 10 * MS, 60_120.0)
    processor.handle(_record(dear, "book.l2.v1"), dear, out)
    topics = [name for name, _ in out.events]
    assert topics.count("arb.opportunities.v1") == 1
    assert topics.count("arb.spreads.v1") == 2  # both directions sampled on their first evaluation
    opportunity = next(e for name, e in out.events if name == "arb.opportunities.v1")
    assert isinstance(opportunity, ArbOpportunity)
    assert (opportunity.buy.exchange, opportunity.sell.exchange) == (ExchangeId.OKX, ExchangeId.BYBIT)
    assert opportunity.event is OpportunityEventType.OPENED
    assert opportunity.buy.taker_fee_bps == Decimal("5")
    assert opportunity.sell.taker_fee_bps == Decimal("5.5")
    # every event is valid against its published contract, and keyed by symbol
    for name, event in out.events:
        assert isinstance(event, ArbOpportunity | ArbSpread)
        assert topic(name).payload.validate_json(event.model_dump_json()) == event
        assert event.key == SYMBOL
    rows = out.rows
    assert len(rows[ARB_OPPORTUNITIES]) == 1
    assert len(rows[ARB_SPREADS]) == 2
    assert all(len(row) == len(ARB_OPPORTUNITIES.columns) for row in rows[ARB_OPPORTUNITIES])
    assert all(len(row) == len(ARB_SPREADS.columns) for row in rows[ARB_SPREADS])
    row = dict(zip(ARB_OPPORTUNITIES.columns, rows[ARB_OPPORTUNITIES][0], strict=True))
    assert row["opportunity_id"] == opportunity.opportunity_id
    assert row["executable_bps"] == [fill.spread_bps for fill in opportunity.executable]
    assert row["ts"] == datetime.fromtimestamp((T0 + 10 * MS) / 1e9, tz=UTC)


def test_top_and_funding_inputs_and_an_invalid_book() -> None:
    processor = _processor(funding_open_apr_bps=500.0, funding_close_apr_bps=100.0)
    out = Output()
    top = BookTop(
        exchange=ExchangeId.OKX,
        symbol=SYMBOL,
        native_symbol="BTC-USDT-SWAP",
        exchange_ts=T0,
        receive_ts=T0,
        venue_seq=1,
        book_seq=1,
        bid_price=Decimal("59999.9"),
        bid_quantity=Decimal("5"),
        ask_price=Decimal("60000.0"),
        ask_quantity=Decimal("5"),
    )
    processor.handle(_record(top, "book.bbo.v1"), top, out)
    for exchange, rate in ((ExchangeId.OKX, "0.0001"), (ExchangeId.BYBIT, "0.0003")):
        funding = Funding(
            exchange=exchange,
            symbol=SYMBOL,
            native_symbol=VENUES[exchange],
            exchange_ts=T0,
            receive_ts=T0,
            rate=Decimal(rate),
            interval_s=8 * 3600,
            next_funding_ts=T0 + 3_600_000 * MS,
            mark_price=Decimal("60001"),
            index_price=Decimal("60000"),
        )
        processor.handle(_record(funding, "md.funding.v1"), funding, out)
    opened = [e for name, e in out.events if isinstance(e, ArbOpportunity)]
    assert [(e.kind.value, e.buy.exchange, e.sell.exchange) for e in opened] == [
        ("funding", ExchangeId.OKX, ExchangeId.BYBIT)
    ]
    assert opened[0].sell.funding is not None
    assert opened[0].sell.funding.time_to_funding_ms == 3_600_000
    assert opened[0].funding_differential_apr == Decimal("0.219")
    invalid = _depth(ExchangeId.OKX, T0 + MS, 0.0, valid=False)
    processor.handle(_record(invalid, "book.l2.v1"), invalid, out)  # used: the okx leg is now unusable
    with pytest.raises(RejectedInput):
        processor.handle(_record(top, "book.bbo.v1"), object(), out)


def test_fee_defaults_are_documented_and_overridable(tmp_path: Path) -> None:
    document = json.loads((Path(__file__).parents[2] / "services" / "arbitrage" / "fees.json").read_text())
    venues = {k: v for k, v in document.items() if not k.startswith("_")}
    assert set(venues) == {e.value for e in ExchangeId}
    for venue, entry in venues.items():
        assert entry["source"], venue
        assert entry["checked"] == "2026-12-02", venue
        assert "published" in entry, venue
    assert default_fees()["binance_usdm"] == 5.0
    assert load_fees('{"okx": {"taker_bps": 2.0}}').taker("okx") == 2.0
    path = tmp_path / "fees.json"
    path.write_text('{"bybit": {"taker_bps": 3.0}}')
    table = load_fees(str(path))
    assert (table.taker("bybit"), table.taker("okx")) == (3.0, 5.0)
    with pytest.raises(FeeDocumentError):
        load_fees("{not json")
    assert parse_notionals("100000, 10000") == (10_000.0, 100_000.0)
    with pytest.raises(ValueError, match="positive"):
        parse_notionals("0")


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERPWATCH_ARB_FEES", '{"okx": {"taker_bps": 1.0}}')
    monkeypatch.setenv("PERPWATCH_ARB_NOTIONALS", "5000")
    monkeypatch.setenv("PERPWATCH_ARB_MAX_AGE_MS", "1500")
    processor = build_processor()
    assert processor.config.fees.taker("okx") == 1.0
    assert processor.config.notionals == (5_000.0,)
    assert processor.config.max_age_ns == 1_500 * MS


def test_published_lifecycle_events_restore_open_opportunities_and_cooldowns() -> None:
    first = _processor()
    out = Output()
    steps = ((ExchangeId.OKX, T0, 60_000.0), (ExchangeId.BYBIT, T0 + MS, 60_120.0))
    for exchange, ts, mid in steps:
        depth = _depth(exchange, ts, mid)
        first.handle(_record(depth, "book.l2.v1"), depth, out)
    published = [e for _, e in out.events if isinstance(e, ArbOpportunity)]
    assert [e.event.value for e in published] == ["opened"]

    second = _processor()
    second.install(reversed(published))  # as read back from the topic, in any order
    assert second.engine.open_count[Kind.SPREAD] == 1
    out = Output()
    for exchange, ts, mid in (
        (ExchangeId.OKX, T0 + 2 * MS, 60_000.0),
        (ExchangeId.BYBIT, T0 + 3 * MS, 60_001.0),
    ):
        depth = _depth(exchange, ts, mid)
        second.handle(_record(depth, "book.l2.v1"), depth, out)
    closed = [e for _, e in out.events if isinstance(e, ArbOpportunity)]
    assert [(e.opportunity_id, e.seq, e.event.value, e.opened_ts) for e in closed] == [
        (published[0].opportunity_id, 1, "closed", published[0].opened_ts)
    ]

    third = _processor(cooldown_ms=60_000)
    third.install([*published, *closed])
    assert third.engine.open_count[Kind.SPREAD] == 0
    out = Output()
    for exchange, ts, mid in (
        (ExchangeId.OKX, T0 + 4 * MS, 60_000.0),
        (ExchangeId.BYBIT, T0 + 5 * MS, 60_120.0),
    ):
        depth = _depth(exchange, ts, mid)
        third.handle(_record(depth, "book.l2.v1"), depth, out)
    assert [e for _, e in out.events if isinstance(e, ArbOpportunity)] == []  # cooling down


def test_records_before_the_committed_offset_only_rebuild_books() -> None:
    from aiokafka import TopicPartition

    processor = _processor(sample_interval_ms=1000)
    processor._live_from = {TopicPartition("book.l2.v1", 0): 2}
    out = Output()
    depths = [
        _depth(ExchangeId.OKX, T0, 60_000.0),
        _depth(ExchangeId.BYBIT, T0 + MS, 60_120.0),  # replayed: the first run sampled the pair here
        _depth(ExchangeId.BYBIT, T0 + 2 * MS, 60_120.0),  # live
    ]
    for offset, depth in enumerate(depths):
        processor.handle(_record(depth, "book.l2.v1", offset), depth, out)
    # The replayed records rebuilt both books without evaluating or emitting anything; the live one
    # is evaluated against both (here it opens: no lifecycle was installed), and the pair is not
    # sampled again in the second the first run already sampled.
    assert processor.engine.counters.evaluations == 2
    assert [name for name, _ in out.events] == ["arb.opportunities.v1"]


def test_offline_analysis_prints_events_and_a_summary() -> None:
    lines = []
    for n, (exchange, mid) in enumerate([(ExchangeId.BYBIT, 60_120.0), (ExchangeId.OKX, 60_000.0)]):
        event = _depth(exchange, T0 + (1 - n) * MS, mid)  # written out of time order on purpose
        lines.append(
            orjson.dumps(
                {"topic": "book.l2.v1", "key": event.key, "event": json.loads(event.model_dump_json())}
            )
        )
    lines.append(b'{"topic": "md.trades.v1", "key": "x", "event": {}}')
    out = io.BytesIO()
    summary = analyze(_processor(), lines, out, order="time", outputs=("arb.opportunities.v1",))
    printed = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert [(p["event"], p["buy"]["exchange"], p["sell"]["exchange"]) for p in printed] == [
        ("opened", "okx", "bybit")
    ]
    assert summary.stats["opened"] == 1
    assert summary.stats["evaluations"] == 2
    assert summary.skipped == {"md.trades.v1": 1}
    assert summary.stats["rejections"] == {}


def test_spread_example_round_trips() -> None:
    from schemas.examples import EXAMPLES

    for name in ("arb.opportunities.v1", "arb.spreads.v1"):
        example = EXAMPLES[name]
        assert isinstance(example, ArbOpportunity | ArbSpread)
        assert topic(name).payload.validate_json(example.model_dump_json()) == example


def test_depth_decoder_agrees_with_the_contract() -> None:
    from schemas.examples import EXAMPLES
    from services.arbitrage.decode import DepthInput, decode_depth

    example = EXAMPLES["book.l2.v1"]
    assert isinstance(example, BookDepth)
    decoded = decode_depth(example.model_dump_json().encode())
    assert decoded == DepthInput(
        example.exchange,
        example.symbol,
        example.exchange_ts,
        True,
        "",
        [(float(p), float(q)) for p, q in example.bids],
        [(float(p), float(q)) for p, q in example.asks],
    )
    invalid = _depth(ExchangeId.OKX, T0, 0.0, valid=False)
    assert decode_depth(invalid.model_dump_json().encode()).valid is False
    good = json.loads(example.model_dump_json())
    for change in (
        {"exchange": "nowhere"},
        {"symbol": "BTCUSDT"},
        {"exchange_ts": -1},
        {"status": "maybe"},
        {"status": "invalid"},  # with levels
        {"bids": [["61800.30", "1"]]},  # crossed
        {"bids": [["-1", "1"]]},
        {"asks": [["61801", "x"]]},
        {"bids": "none"},
    ):
        with pytest.raises(RejectedInput) as rejected:
            decode_depth(orjson.dumps({**good, **change}))
        assert rejected.value.error_type == "validation_error"
        with pytest.raises(ValidationError):  # the contract rejects it too
            topic("book.l2.v1").payload.validate_json(orjson.dumps({**good, **change}))
    with pytest.raises(RejectedInput):
        decode_depth(b"[1, 2")
    # Levels out of order are no error of the contract's, but the walk needs them best first: the
    # service rejects them, with the reason, whichever way they were decoded.
    unsorted = orjson.dumps({**good, "asks": [["61800.50", "1"], ["61800.30", "1"]]})
    with pytest.raises(RejectedInput, match="best first"):
        decode_depth(unsorted)
    depth = BookDepth.model_validate_json(unsorted)
    with pytest.raises(RejectedInput, match="best first"):
        _processor().handle(_record(depth, "book.l2.v1"), depth, Output())


def test_decoded_depth_is_handled_like_the_contract_model() -> None:
    from services.arbitrage.decode import decode_depth

    via_decoder, via_contract = _processor(), _processor()
    outs = Output(), Output()
    for ts, exchange, mid in ((T0, ExchangeId.OKX, 60_000.0), (T0 + MS, ExchangeId.BYBIT, 60_120.0)):
        depth = _depth(exchange, ts, mid)
        raw = depth.model_dump_json().encode()
        via_decoder.handle(_record(depth, "book.l2.v1"), decode_depth(raw), outs[0])
        via_contract.handle(_record(depth, "book.l2.v1"), depth, outs[1])
    assert outs[0].events == outs[1].events
    assert outs[0].rows == outs[1].rows
