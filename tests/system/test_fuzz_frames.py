"""Raw fuzz frames through the ingest path: the simulator sends them, the real connector reads them.

The fuzz kit mutates real Binance USD-M frames (``fuzzkit.fuzz_texts``); the simulator's control
endpoint (``POST /frames``) sends them, in batches, between the venue's own frames, to the
ingest service's session; the service publishes to the real broker. Then:

- the service stayed up on one session (no reconnect);
- every frame the connection received ended normalized, control or rejected with a reason, and
  the counters add up exactly;
- every fuzz frame ended as the parser's verdict on it says: a rejected one is on ``dlq.v1``
  with that reason (and counted by reason), once per session it was sent to;
- every event of the venue's own frames is on its topic, none lost.

Fuzz frames the parser would turn into book events are not sent: a valid-looking book diff
changes the venue's book chain, which is the book-builder's concern (tests/book_builder).
"""

import asyncio
import json
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot, ConnectorState
from services.ingest.connector.parse import CHANNEL_OF_EVENT, normalize_raw
from services.ingest.normalizer import FrameRejected
from services.ingest.service import FeedSpec, IngestService
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.runtime.settings import Settings
from services.simulator.model import ModelConfig
from services.simulator.server import Simulator, SimulatorConfig
from services.venues import adapter_for
from tests.ingest.fuzzkit import binance_capture_frames, fuzz_texts
from tests.integration.helpers import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.system]

VENUE = ExchangeId.BINANCE_USDM
FUZZ_FRAMES = 400
BATCHES = 8
MARKET_TOPICS = ("md.trades.v1", "md.book.v1", "md.bbo.v1", "md.funding.v1", "md.open_interest.v1")


def verdict(text: str) -> tuple[str, Counter[str]]:
    """What the parser makes of one frame: ("rejected:<reason>" | "control" | "normalized", events per channel)."""
    try:
        events = normalize_raw(adapter_for(VENUE, load_snapshot()), text, time.time_ns())
    except FrameRejected as exc:
        return f"rejected:{exc.error_type}", Counter()
    if events is None:
        return "control", Counter()
    return "normalized", Counter(CHANNEL_OF_EVENT[type(e)].value for e in events)


def post_frames(control_url: str, texts: list[str]) -> int:
    body = json.dumps({"venue": VENUE.value, "frames": texts}).encode()
    request = urllib.request.Request(f"{control_url}/frames", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202
        return int(json.loads(answer.read())["sessions"])


def counter_total(name: str, label: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == name and sample.labels.get("exchange") == VENUE.value:
                found[sample.labels[label]] = sample.value
    return found


async def _wait(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_fuzz_frames_from_the_simulator_are_rejected_with_reasons_and_good_ones_all_arrive(
    settings: Settings, binance_capture: Path
) -> None:
    candidates = fuzz_texts(list(binance_capture_frames(binance_capture).values()), FUZZ_FRAMES * 2, seed=17)
    verdicts = {text: verdict(text) for text in candidates}
    fuzz = [t for t in candidates if not {"book"} & set(verdicts[t][1])][:FUZZ_FRAMES]
    outcomes = Counter(verdicts[t][0].split(":")[0] for t in fuzz)
    assert outcomes["rejected"] > FUZZ_FRAMES // 2, outcomes  # the kit mostly makes bad frames
    messages_before = counter_total("perpwatch_ingest_messages_total", "channel")
    errors_before = counter_total("perpwatch_ingest_parse_errors_total", "error_type")

    market = ModelConfig(tick_s=0.05, funding_every_s=0.5, open_interest_every_s=0.5)
    config = SimulatorConfig(venues=(VENUE,), seed=5, duration_s=120, model=market)
    async with Simulator(config) as simulator:
        natives = tuple(g.native_symbol for g in simulator.model.grids if g.venue == VENUE)
        options = {
            VENUE: simulator.connector_options(VENUE, backoff_initial_s=0.05, open_interest_poll_s=0.5)
        }
        service = IngestService([FeedSpec(VENUE, natives)], settings, options=options)
        running = asyncio.create_task(service.run())
        sessions: list[int] = []
        try:
            await _wait(lambda: VENUE in service.connectors, 30)
            connector = service.connectors[VENUE]
            await connector.wait_connected(10)
            await asyncio.sleep(0.5)
            size = len(fuzz) // BATCHES + 1
            for start in range(0, len(fuzz), size):
                sessions.append(
                    await asyncio.to_thread(post_frames, simulator.control_url, fuzz[start : start + size])
                )
                await asyncio.sleep(0.2)  # the venue's own frames in between
            await asyncio.sleep(0.5)
            await simulator.settle()
            await asyncio.sleep(0.5)
            assert not running.done(), f"ingest stopped: {running.exception() if running.done() else ''}"
            received = sum(c.frames for c in connector.connections)
        finally:
            service.request_stop()
            await asyncio.wait_for(running, timeout=30)

    assert sessions
    assert set(sessions) == {sessions[0]}, "one session all along"
    copies = sessions[0]

    # Every frame received ended as exactly one of normalized, control, rejected with a reason.
    messages = counter_total("perpwatch_ingest_messages_total", "channel")
    errors = counter_total("perpwatch_ingest_parse_errors_total", "error_type")
    handled = Counter({k: v - messages_before.get(k, 0) for k, v in messages.items()})
    rejected = Counter({k: v - errors_before.get(k, 0) for k, v in errors.items()})
    assert received == sum(handled.values()) + sum(rejected.values())

    # Every fuzz frame the parser rejects is on dlq.v1 with its reason, once per session.
    expected_letters: Counter[tuple[str, str]] = Counter()
    for text in fuzz:
        outcome = verdicts[text][0]
        if outcome.startswith("rejected:"):
            expected_letters[(text, outcome.split(":")[1])] += copies
    letters = [e for _, e in await read_topic(settings, "dlq.v1") if e.service == "ingest"]
    assert Counter((letter.payload_text, letter.error_type) for letter in letters) == expected_letters
    assert all(letter.error and letter.source == f"ws:{VENUE.value}" for letter in letters)
    by_reason: Counter[str] = Counter()
    for (_, reason), n in expected_letters.items():
        by_reason[reason] += n
    assert +rejected == by_reason, "each rejection counted by its reason"

    # The venue's own frames' events all arrived, plus the events of fuzz frames the parser accepts.
    fuzz_events: Counter[str] = Counter()
    for text in fuzz:
        fuzz_events.update({channel: n * copies for channel, n in verdicts[text][1].items()})
    published: Counter[str] = Counter()
    for topic in MARKET_TOPICS:
        for _, event in await read_topic(settings, topic):
            assert not isinstance(event, BookSnapshot | BookDelta) or event.exchange is VENUE
            published[CHANNEL_OF_EVENT[type(event)].value] += 1
    sent = Counter(
        {channel: n for (venue, channel), n in simulator.stats.sent_events.items() if venue == VENUE.value}
    )
    assert published == sent + fuzz_events
    assert set(sent) >= {Channel.BOOK.value, Channel.TRADES.value}

    statuses = [e.state for _, e in await read_topic(settings, "md.status.v1")]
    assert statuses == [ConnectorState.CONNECTED, ConnectorState.DISCONNECTED], "never reconnected"
