"""``perpwatch capture`` records what the connector receives; replay and normalize read it back,
and the cryptofeed ``sample_data`` format reads with its REST snapshots merged in by time."""

import gzip
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSnapshot
from services.cli.normalize import normalize_file
from services.ingest.capture import capture_feed
from services.ingest.captures import (
    capture_header,
    detect_format,
    read_capture,
    read_cryptofeed,
    snapshot_matcher,
)
from services.ingest.replay import normalize_frame, open_capture
from services.instruments.catalog import load_snapshot
from services.simulator.model import ModelConfig
from services.simulator.server import Simulator, SimulatorConfig
from services.venues import adapter_for


async def test_a_capture_replays_to_the_events_the_connector_saw(tmp_path: Path) -> None:
    out = tmp_path / "binance.capture.jsonl.gz"
    config = SimulatorConfig(venues=(ExchangeId.BINANCE_USDM,), duration_s=30, model=ModelConfig(tick_s=0.05))
    async with Simulator(config) as simulator:
        options = simulator.connector_options(ExchangeId.BINANCE_USDM, protocol_ping_interval_s=None)
        stats = await capture_feed(
            ExchangeId.BINANCE_USDM,
            ["BTC-USDT-PERP", "ETHUSDT"],
            out,
            duration_s=10,
            max_frames=150,
            options=options,
        )
    assert stats.frames >= 150
    assert stats.rejected == 0
    header = capture_header(out)
    assert header is not None
    assert header["exchange"] == "binance_usdm"
    assert header["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert detect_format(out) == "capture"
    kinds = Counter(json.loads(line)["kind"] for line in gzip.decompress(out.read_bytes()).splitlines()[1:])
    assert kinds["connect"] == 1
    assert kinds["sent"] == 1
    assert kinds["rest"] >= 2  # a depth snapshot per symbol, open-interest polls
    assert kinds["ws"] + kinds["rest"] == stats.frames

    capture = open_capture(out, exchange=ExchangeId.OKX)  # the file's own venue wins
    assert capture.exchange is ExchangeId.BINANCE_USDM
    events = [e for frame in capture.frames for e in normalize_frame(capture.adapter, frame) or ()]
    assert len(events) == stats.events
    assert sum(isinstance(e, BookSnapshot) for e in events) == 2
    assert len(list(read_capture(out))) == stats.frames

    out_lines = io.BytesIO()
    assert normalize_file(out, None, "auto", out_lines) == 0
    assert len(out_lines.getvalue().splitlines()) == stats.events


def test_cryptofeed_sample_data_reads_with_its_rest_snapshots(shared_data: Path) -> None:
    path = shared_data / "cryptofeed" / "BINANCE_FUTURES.ws.1.0"
    if not path.exists():
        pytest.skip(f"{path} not found")
    assert detect_format(path) == "cryptofeed"
    adapter = adapter_for(ExchangeId.BINANCE_USDM, load_snapshot())
    frames = list(read_cryptofeed(path, snapshot_matcher(adapter.book_snapshot_request)))
    snapshots = [f for f in frames if f.is_rest_snapshot]
    assert sorted(f.native_symbol or "" for f in snapshots) == [
        "AKROUSDT",
        "CTKUSDT",
        "KEEPUSDT",
        "SUSHIUSDT",
    ]
    assert len(frames) - len(snapshots) == 1535  # every received line; connect marker skipped
    stamps = [f.receive_ts for f in frames]
    assert stamps == sorted(stamps)
    assert frames[0].receive_ts == 1626992741062170000
    assert frames[0].raw.startswith(b'{"stream":"sushiusdt@bookTicker"')
    capture = open_capture(path)
    assert (capture.format, capture.exchange) == ("cryptofeed", ExchangeId.BINANCE_USDM)
