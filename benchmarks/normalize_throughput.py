"""Normalize throughput per venue on the recorded data in ../shared/data, beside cryptofeed 2.4.1.

    python benchmarks/normalize_throughput.py [--seconds 1.0] [--data DIR] [--venue binance_usdm ...]

Every registered venue (``services/venues/``) that has recorded frames (an
hftbacktest capture, or a cryptofeed ``sample_data`` WebSocket file) is measured, and so are the
venues of ``SIMULATED`` on the frames one subscriber of the simulator receives (no capture of
theirs fits: none recorded, or no symbol data for cryptofeed). Measured: frames per
second through ``replay.normalize_frame``, the exact path of the live connectors (JSON decode,
venue parser, pydantic contract models). Frames are read into memory first; only parsing is
timed. Where cryptofeed 2.4.1 is importable and has a feed for the venue, the same frames go
through its ``message_handler`` (JSON decode, parsing, its own book keeping, no-op callbacks)
in the same process, and the ratio ours / cryptofeed is printed. cryptofeed is not a project
dependency: without it the comparison column says why it is empty.

Each pass starts fresh on both sides (a new adapter, a new cryptofeed feed). The two take turns,
a pass each, for at least ``--seconds`` each, and each side's fastest pass is reported: on a
shared machine other work only slows a pass down, and turns expose both sides to the same load.

cryptofeed's symbol tables come from the recorded start-up data (``NAME.0``) and its REST book
snapshots from the recorded ``NAME.http.*`` responses; for a simulated venue, from the
simulator's instruments answer. Nothing touches the network.
"""

import argparse
import asyncio
import contextlib
import logging
import sys
import time
import types
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from schemas.common import ExchangeId  # noqa: E402
from services.ingest.captures import CRYPTOFEED_EXCHANGES, CapturedFrame, cryptofeed_name  # noqa: E402
from services.ingest.connector import instruments_of  # noqa: E402
from services.ingest.normalizer import FrameRejected  # noqa: E402
from services.ingest.replay import normalize_frame, open_capture  # noqa: E402
from services.ingest.venue import Channel, VenueAdapter  # noqa: E402
from services.instruments.catalog import InstrumentCatalog, load_snapshot  # noqa: E402
from services.simulator.subscriber import START_NS, SimulatedVenue  # noqa: E402
from services.venues import adapter_for, registered_venues  # noqa: E402

HFTBACKTEST_FOLDERS = {
    "usdm": ExchangeId.BINANCE_USDM,
    "cm": ExchangeId.BINANCE_COINM,
    "hyperliquid": ExchangeId.HYPERLIQUID,
}
# cryptofeed 2.4.1 feed class per venue, and the cryptofeed name of its recorded start-up data.
CRYPTOFEED_FEEDS: dict[ExchangeId, tuple[str, str]] = {
    ExchangeId.BINANCE_USDM: ("BinanceFutures", "BINANCE_FUTURES"),
    ExchangeId.BINANCE_COINM: ("BinanceDelivery", "BINANCE_DELIVERY"),
    ExchangeId.OKX: ("OKX", "OKX"),
    ExchangeId.BYBIT: ("Bybit", "BYBIT"),
    ExchangeId.GATEIO: ("GateioFutures", "GATEIO_FUTURES"),
    ExchangeId.DERIBIT: ("Deribit", "DERIBIT"),
    ExchangeId.BITGET: ("Bitget", "BITGET"),
    ExchangeId.PHEMEX: ("Phemex", "PHEMEX"),
    ExchangeId.BITMEX: ("Bitmex", "BITMEX"),
}


@dataclass(frozen=True)
class SimulatedFeed:
    """A subscriber of the simulated venue: its channels (subscribed as our connector subscribes
    them), and cryptofeed's subscription to the same data."""

    channels: frozenset[Channel]
    cryptofeed_channels: tuple[str, ...]
    steps: int = 3000
    """Market ticks of 100 ms: 5 minutes of the simulator's market."""


# Bybit v5 linear: orderbook.50 (snapshot, then deltas), publicTrade and tickers (snapshot, then
# deltas) for BTCUSDT and ETHUSDT. The top of book (orderbook.1) is left out: cryptofeed takes
# every orderbook topic for its one book, and would reset it on each orderbook.1 snapshot.
SIMULATED: dict[ExchangeId, SimulatedFeed] = {
    ExchangeId.BYBIT: SimulatedFeed(
        frozenset({Channel.BOOK, Channel.TRADES, Channel.FUNDING, Channel.OPEN_INTEREST}),
        ("l2_book", "trades", "funding", "open_interest"),
    ),
}


@dataclass
class Source:
    venue: ExchangeId
    path: Path | None
    label: str
    simulated: SimulatedFeed | None = None


@dataclass
class Result:
    frames: int
    events: int
    rejected: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def find_sources(data: Path) -> list[Source]:
    ours = set(registered_venues())
    sources = []
    for folder, venue in HFTBACKTEST_FOLDERS.items():
        for path in sorted((data / "hftbacktest" / folder).glob("*.gz")):
            sources.append(Source(venue, path, f"hftbacktest/{folder}/{path.name}"))
    for path in sorted((data / "cryptofeed").glob("*.ws.*")):
        recorded_venue = CRYPTOFEED_EXCHANGES.get(cryptofeed_name(path) or "")
        if recorded_venue is not None:
            sources.append(Source(recorded_venue, path, f"cryptofeed/{path.name}"))
    for venue, feed in SIMULATED.items():
        sources.append(Source(venue, None, f"simulator/{venue.value} ({feed.steps} ticks)", feed))
    return [s for s in sources if s.venue in ours]


def simulated_frames(source: Source) -> tuple[list[CapturedFrame], Any]:
    """The frames one subscriber of the simulated venue receives, and the venue's instruments
    answer (cryptofeed's symbol data)."""
    assert source.simulated is not None
    adapter = adapter_for(source.venue, load_snapshot())
    simulated = SimulatedVenue.of(source.venue)
    natives = [grid.native_symbol for grid in simulated.model.grids]
    subscribe = adapter.subscribe_frames(source.simulated.channels, natives)
    instruments = orjson.loads(simulated.rest(adapter.instruments_request()).body)
    texts = simulated.subscriber_frames(subscribe, steps=source.simulated.steps)
    return [CapturedFrame(START_NS, text.encode()) for text in texts], instruments


def startup_data(data: Path, name: str) -> tuple[list[Any], dict[str, Any] | None]:
    """REST payloads and the feed configuration cryptofeed recorded at start-up (``NAME.0``)."""
    path = data / "cryptofeed" / f"{name}.0"
    payloads: list[Any] = []
    configuration = None
    if not path.exists():
        return payloads, None
    for line in path.read_bytes().splitlines():
        if line.startswith(b"configuration: "):
            configuration = orjson.loads(line.partition(b": ")[2])
        elif b" -> " in line:
            payloads.append(orjson.loads(line.partition(b" -> ")[2].partition(b": ")[2]))
    return payloads, configuration


def catalog_with_recorded_instruments(venue: ExchangeId, data: Path, source: Source) -> InstrumentCatalog:
    """The instrument snapshot, extended with the instruments a cryptofeed capture used."""
    snapshot = load_snapshot()
    if source.path is None or not source.label.startswith("cryptofeed/"):
        return snapshot
    adapter = adapter_for(venue, snapshot)
    payloads, _ = startup_data(data, cryptofeed_name(source.path) or "")
    extra = []
    for payload in payloads:
        with contextlib.suppress(Exception):  # an old payload shape the current parser rejects
            extra.extend(adapter.parse_instruments(payload))
    if not extra:
        return snapshot
    known = [i for e in registered_venues() for i in instruments_of(e)]
    return InstrumentCatalog(known + extra, version="benchmark")


def pass_of_ours(new_adapter: Callable[[], VenueAdapter], frames: list[CapturedFrame]) -> Result:
    """One pass over the frames with a new adapter (as cryptofeed gets a new feed per pass):
    what the parsers remember (instruments, decimal texts) starts empty every pass."""
    adapter = new_adapter()
    events = rejected = 0
    started = time.perf_counter()
    for frame in frames:
        try:
            events += len(normalize_frame(adapter, frame) or ())
        except FrameRejected:
            rejected += 1
    return Result(len(frames), events, rejected, time.perf_counter() - started)


def best_passes(passes: list[Callable[[], Result]], min_seconds: float, min_passes: int = 5) -> list[Result]:
    """One pass of each side in turn until every side has run ``min_seconds`` and ``min_passes``
    times; each side's fastest pass. On a shared machine other work only ever slows a pass down,
    and taking turns exposes both sides to the same load, so the best passes compare fairly."""
    best: list[Result | None] = [None] * len(passes)
    spent = [0.0] * len(passes)
    runs = 0
    while runs < min_passes or min(spent) < min_seconds:
        for side, run in enumerate(passes):
            once = run()
            spent[side] += once.seconds
            if (current := best[side]) is None or once.seconds < current.seconds:
                best[side] = once
        runs += 1
    return [result for result in best if result is not None]


# --- cryptofeed ---------------------------------------------------------------------------------


def cryptofeed_runner(
    venue: ExchangeId,
    data: Path,
    frames: list[CapturedFrame],
    *,
    recorded_by_cryptofeed: bool,
    simulated: tuple[SimulatedFeed, Any] | None = None,
) -> tuple[Callable[[], Result] | None, str]:
    """A function that pushes the frames through a fresh cryptofeed feed, or why there is none.

    ``simulated``: the simulated venue's feed and instruments answer, which stand in for the
    recorded start-up data.
    """
    try:
        import cryptofeed
        from cryptofeed import exchanges
        from cryptofeed.defines import FUNDING, L2_BOOK, LIQUIDATIONS, OPEN_INTEREST, TICKER, TRADES
        from cryptofeed.symbols import Symbols
    except ImportError as exc:
        return None, f"cryptofeed not importable ({exc}); pip install cryptofeed==2.4.1"
    version = getattr(cryptofeed, "__version__", "")
    if version and version != "2.4.1":
        logging.getLogger(__name__).warning("comparing with cryptofeed %s, not 2.4.1", version)
    if venue not in CRYPTOFEED_FEEDS:
        return None, "no cryptofeed feed for this venue"
    class_name, startup = CRYPTOFEED_FEEDS[venue]
    feed_class = getattr(exchanges, class_name, None)
    if feed_class is None:
        return None, f"cryptofeed has no {class_name}"
    if simulated is not None:
        # One answer per market, as cryptofeed fetches them (Bybit reads a list: linear, spot).
        payloads, configuration = [[simulated[1]]], None
    else:
        payloads, configuration = startup_data(data, startup)
    if not payloads:
        return None, f"no recorded symbol data for cryptofeed ({startup}.0)"
    logging.getLogger("feedhandler").setLevel(logging.CRITICAL)
    try:
        symbols, info = feed_class._parse_symbol_data(payloads[0] if len(payloads) == 1 else payloads)
        Symbols.set(feed_class.id, symbols, info)
    except Exception as exc:
        return None, f"cryptofeed cannot read {startup}.0: {type(exc).__name__}: {exc}"
    snapshots = {
        f.native_symbol: f.raw.decode() for f in frames if f.is_rest_snapshot and f.native_symbol is not None
    }
    texts = [(f.raw.decode("utf-8", "replace"), f.receive_ts / 1e9) for f in frames if not f.is_rest_snapshot]

    public = {TRADES, L2_BOOK, TICKER, FUNDING, LIQUIDATIONS, OPEN_INTEREST}

    def subscription() -> dict[str, list[str]]:
        """The recording's own configuration (public channels), else the capture's symbols."""
        if simulated is not None:
            return {channel: sorted(symbols) for channel in simulated[0].cryptofeed_channels}
        if configuration and recorded_by_cryptofeed:
            chosen = {channel: list(syms) for channel, syms in configuration.items() if channel in public}
            if chosen:
                return chosen
        standard = {exchange_symbol: std for std, exchange_symbol in symbols.items()}
        natives = {f.native_symbol for f in frames if f.native_symbol} | set(_stream_symbols(texts))
        picked = sorted({standard[n] for n in natives if n in standard}) or list(symbols)[:1]
        return {TRADES: picked, L2_BOOK: picked, TICKER: picked}

    delivered = Counter[str]()

    def fresh_feed() -> Any:
        wanted = subscription()

        def counting(channel: str) -> Callable[..., Any]:
            async def callback(*_: Any) -> None:
                delivered[channel] += 1

            return callback

        feed = feed_class(subscription=wanted, callbacks={channel: counting(channel) for channel in wanted})

        async def recorded_snapshot(url: str, *_: Any, **__: Any) -> str:
            for native, body in snapshots.items():
                if f"={native}&" in url or url.endswith(f"={native}"):
                    return body
            raise LookupError(f"no recorded snapshot for {url}")

        feed.http_conn.read = recorded_snapshot
        return feed

    try:
        fresh_feed()
    except Exception as exc:
        return None, f"cryptofeed feed setup failed: {type(exc).__name__}: {exc}"

    def run() -> Result:
        async def drive() -> Result:
            feed = fresh_feed()
            # address: Bybit tells linear from spot by the URL; subscription: what it emits.
            conn = types.SimpleNamespace(
                uuid="benchmark",
                conn_id="benchmark",
                id="benchmark",
                address=adapter_for(venue, load_snapshot()).ws_url,
                subscription=feed.subscription,
            )
            errors = 0
            delivered.clear()
            started = time.perf_counter()
            for text, timestamp in texts:
                try:
                    await feed.message_handler(text, conn, timestamp)
                except Exception:
                    errors += 1
            elapsed = time.perf_counter() - started
            return Result(len(texts), sum(delivered.values()), errors, elapsed)

        return asyncio.run(drive())

    return run, "ok"


def _stream_symbols(texts: list[tuple[str, float]]) -> list[str]:
    """Binance-style ``"s"`` symbols named in the frames (enough to pick cryptofeed symbols)."""
    found = []
    for text, _ in texts[:200]:
        with contextlib.suppress(Exception):
            frame = orjson.loads(text)
            inner = frame.get("data", frame)
            if isinstance(inner, dict) and isinstance(inner.get("s"), str):
                found.append(inner["s"])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=1.0,
        help="Minimum timed seconds per side (ours, cryptofeed) and source.",
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--venue", action="append", type=ExchangeId, help="Only this venue (repeatable); default: every one."
    )
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no recorded data at {args.data}: nothing to measure", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.ERROR)
    print(
        f"{'venue':<14} {'source':<42} {'frames':>6} | {'events':>6} {'rejected':>8} {'ours f/s':>9} | "
        f"{'events':>6} {'errors':>6} {'cf f/s':>9} | {'ratio':>5}  note"
    )
    totals: Counter[str] = Counter()
    for source in find_sources(args.data):
        if args.venue and source.venue not in args.venue:
            continue
        catalog = catalog_with_recorded_instruments(source.venue, args.data, source)
        simulated = None
        if source.path is None:
            frames, instruments = simulated_frames(source)
            simulated = (source.simulated, instruments) if source.simulated else None
        else:
            frames = list(open_capture(source.path, exchange=source.venue).frames)
        if not frames:
            continue
        runner, note = cryptofeed_runner(
            source.venue,
            args.data,
            frames,
            recorded_by_cryptofeed=source.label.startswith("cryptofeed/"),
            simulated=simulated,
        )
        ours_pass = partial(pass_of_ours, partial(adapter_for, source.venue, catalog), frames)
        ours, *rest = best_passes([ours_pass, runner] if runner else [ours_pass], args.seconds)
        theirs = rest[0] if rest else None
        ratio = "-"
        if theirs is not None and theirs.rate:
            ratio = f"{ours.rate / theirs.rate:.2f}"
            comparable = ours.rejected <= 0.1 * len(frames) and theirs.rejected <= 0.1 * len(frames)
            note = (
                ""
                if comparable
                else f"not comparable: ours rejected {ours.rejected}, cryptofeed raised on {theirs.rejected}"
            )
        cf = (
            f"{theirs.events:>6} {theirs.rejected:>6} {theirs.rate:>9,.0f}"
            if theirs
            else f"{'':>6} {'':>6} {'-':>9}"
        )
        print(
            f"{source.venue.value:<14} {source.label:<42} {len(frames):>6} | {ours.events:>6} {ours.rejected:>8} "
            f"{ours.rate:>9,.0f} | {cf} | {ratio:>5}  {note}"
        )
        totals["sources"] += 1
    if not totals:
        print("no venue has both a module and recorded frames", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
