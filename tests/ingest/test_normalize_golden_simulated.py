"""The normalizer's output on simulated Bybit frames, byte for byte (issue 16).

No real Bybit capture fits (``../shared/data`` has none), so the frames are those one subscriber
of the simulator's Bybit dialect receives (``services/simulator/subscriber.py``), in Bybit's v5
linear format (https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook, /trade,
/ticker, /all-liquidation): every channel our connector subscribes, BTCUSDT and ETHUSDT, with a
liquidation burst. The sha256 of what ``perpwatch normalize`` prints for them was recorded
before the speed work on the Bybit parser (``golden/bybit_simulated.json``).

The frames' own digest is checked first: if the simulator's model or dialect changes, its frames
do, and the output digest must be recorded again (with the normalizer of the commit before).
"""

import hashlib
import io
import json
from pathlib import Path

from schemas.common import ExchangeId
from services.cli.normalize import normalize_file
from services.ingest.replay import FrameTally
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.simulator.model import Fault, FaultKind
from services.simulator.subscriber import SimulatedVenue
from services.venues import adapter_for

GOLDEN = Path(__file__).parent / "golden" / "bybit_simulated.json"
STEPS = 600  # one minute of the simulator's market


def simulated_bybit_frames() -> list[str]:
    simulated = SimulatedVenue.of(ExchangeId.BYBIT, seed=16)
    simulated.model.inject(Fault(FaultKind.LIQUIDATION_BURST, venue=ExchangeId.BYBIT, duration_s=5.0))
    natives = [grid.native_symbol for grid in simulated.model.grids]
    subscribe = adapter_for(ExchangeId.BYBIT, load_snapshot()).subscribe_frames(frozenset(Channel), natives)
    return simulated.subscriber_frames(subscribe, steps=STEPS)


def test_normalize_output_on_simulated_bybit_frames_is_unchanged(tmp_path: Path) -> None:
    golden = json.loads(GOLDEN.read_text())
    frames = "".join(f"{text}\n" for text in simulated_bybit_frames()).encode()
    assert hashlib.sha256(frames).hexdigest() == golden["frames_sha256"], "the simulator's frames changed"
    capture = tmp_path / "bybit.jsonl"
    capture.write_bytes(frames)
    out, tally = io.BytesIO(), FrameTally()
    normalize_file(capture, ExchangeId.BYBIT, "raw", out, tally=tally)
    assert tally.summary() == golden["summary"]
    assert hashlib.sha256(out.getvalue()).hexdigest() == golden["stdout_sha256"]
