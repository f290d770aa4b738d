"""`perpwatch analyze`: a processor over envelope files gives what it gives through Kafka."""

import io
from pathlib import Path

import orjson

from schemas.examples import EXAMPLES
from services.book_builder.service import BookBuilderProcessor
from services.cli.normalize import normalize_file
from services.market_recorder.service import MarketRecorder
from services.runtime.offline import analyze


def _envelopes(capture: Path) -> list[bytes]:
    buffer = io.BytesIO()
    normalize_file(capture, None, "hftbacktest", buffer)
    return buffer.getvalue().splitlines()


def test_book_builder_offline_matches_the_walking_skeleton(binance_capture: Path) -> None:
    out = io.BytesIO()
    summary = analyze(BookBuilderProcessor(), _envelopes(binance_capture), out)
    assert summary.inputs == {"md.book.v1": 6552}
    # The same figures the Kafka walking skeleton and `make up SOURCE=replay` give.
    assert summary.outputs == {"book.bbo.v1": 5672, "book.l2.v1": 3142}
    assert summary.rows["book_bbo"] == 5672
    first = orjson.loads(out.getvalue().splitlines()[0])
    assert set(first) == {"topic", "key", "event"}
    assert first["key"] == "binance_usdm:BTC-USDT-PERP"


def test_via_chains_services_and_bad_lines_are_counted() -> None:
    trade = EXAMPLES["md.trades.v1"]
    lines = [
        orjson.dumps({"topic": "md.trades.v1", "key": "k", "event": orjson.loads(trade.model_dump_json())}),
        b"not json",
        orjson.dumps({"topic": "md.trades.v1", "key": "k", "event": {"price": "x"}}),
        orjson.dumps({"topic": "md.status.v1", "key": "k", "event": {}}),
    ]
    summary = analyze(MarketRecorder(), lines, io.BytesIO(), via=[BookBuilderProcessor()])
    assert summary.lines == 4
    assert summary.inputs == {"md.trades.v1": 2}
    assert summary.rows == {"market_trades": 1}
    assert summary.rejected == {"not_an_envelope": 1, "validation_error": 1}
    assert summary.skipped == {"md.status.v1": 1}
