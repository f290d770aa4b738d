"""Real data: Binance USD-M BTCUSDT (linear) against Binance COIN-M BTCUSD_PERP (inverse, 100 USD
contracts), recorded over the same minutes of 2024-08-08, through the ingest normalizers and the
book-builder, compared with the cross-quote opt-in.

Two deep venues of one exchange a few bps apart: nothing may open after fees, every spread sample
must respect gross - fees, and the inverse leg's depth must be in BTC like the linear one's.
"""

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.arbitrage.core.engine import Emitted, SpreadSample
from services.arbitrage.service import ArbitrageSettings, build_processor
from services.book_builder.service import BookBuilderProcessor
from services.runtime.offline import analyze
from services.runtime.service import Output

pytestmark = pytest.mark.data
WINDOW_NS = 150 * 1_000_000_000  # the first 2.5 minutes of each capture keep the test short


def _envelopes(capture: Path) -> Iterator[tuple[str, str, bytes]]:
    from services.ingest.replay import normalize_frame, open_capture
    from services.ingest.topics import topic_for

    opened = open_capture(capture)
    start = None
    for frame in opened.frames:
        start = frame.receive_ts if start is None else start
        if frame.receive_ts - start > WINDOW_NS:
            return
        if b"bookTicker" in frame.raw or b"@trade" in frame.raw:
            continue  # the books are rebuilt from depth diffs; tops come from the builder
        for event in normalize_frame(opened.adapter, frame) or ():
            yield topic_for(event), event.key, event.model_dump_json().encode()


@pytest.fixture(scope="module")
def book_events(shared_data: Path) -> list[tuple[int, str, str, bytes, Any]]:
    linear = shared_data / "hftbacktest" / "usdm" / "btcusdt_20240808.gz"
    inverse = shared_data / "hftbacktest" / "cm" / "btcusd_perp_20240808.gz"
    if not (linear.exists() and inverse.exists()):
        pytest.skip("Binance USD-M/COIN-M captures of 2024-08-08 not found")
    from schemas.topics import topic

    events = []
    for capture in (linear, inverse):
        # The books as `perpwatch analyze ... --books` builds them: the book-builder's processor offline.
        lines = [
            orjson.dumps({"topic": name, "key": key, "event": orjson.loads(raw)})
            for name, key, raw in _envelopes(capture)
        ]
        built = io.BytesIO()
        analyze(BookBuilderProcessor(), lines, built)
        for line in built.getvalue().splitlines():
            envelope = orjson.loads(line)
            name, key, raw = envelope["topic"], envelope["key"], orjson.dumps(envelope["event"])
            event = topic(name).payload.validate_json(raw)
            events.append((event.exchange_ts, name, key, raw, event))
    events.sort(key=lambda item: item[0])
    return events


def test_two_real_venues_open_nothing_and_spreads_respect_fees(
    book_events: list[tuple[int, str, str, bytes, Any]],
) -> None:
    from aiokafka.structs import ConsumerRecord

    processor = build_processor(ArbitrageSettings(restore=False, cross_quote=True, sample_interval_ms=1000))
    samples: list[SpreadSample] = []
    publish = processor.publish

    def keep(emitted: list[Emitted], out: Output) -> None:
        samples.extend(e for e in emitted if isinstance(e, SpreadSample))
        publish(emitted, out)

    processor.publish = keep  # type: ignore[method-assign]
    out = Output()
    for offset, (_, name, key, raw, event) in enumerate(book_events):
        record = ConsumerRecord(name, 0, offset, 0, 0, key.encode(), raw, None, 0, len(raw), ())
        processor.handle(record, event, out)
    summary = processor.summary()
    print(summary)
    assert summary["evaluations"] > 5_000
    assert summary["opened"] == 0
    assert len(samples) > 200  # 2.5 minutes, both directions, every second
    pairs = {
        (s.view.buy.exchange, s.view.buy.quote, s.view.sell.exchange, s.view.sell.quote) for s in samples
    }
    assert pairs == {
        ("binance_usdm", "USDT", "binance_coinm", "USD"),
        ("binance_coinm", "USD", "binance_usdm", "USDT"),
    }
    walked = 0
    for sample in samples:
        view = sample.view
        assert view.gross_bps is not None
        assert abs(view.gross_bps) < 20  # the same exchange's two BTC perpetuals stay close
        for fill in view.fills:
            if fill.spread_bps is not None:
                walked += 1
                assert fill.spread_bps <= view.gross_bps - 10.0
    assert walked > 200
    rows = sum(len(r) for r in out.rows.values())
    assert rows == len([e for name, e in out.events])
