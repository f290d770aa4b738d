"""Normalize throughput per venue on the recorded data in ../shared/data, beside cryptofeed 2.4.1.

    python benchmarks/normalize_throughput.py [--seconds 1.0] [--data DIR]

Every registered venue (``services/venues/``) that has recorded frames (an
hftbacktest capture, or a cryptofeed ``sample_data`` WebSocket file) is measured: frames per
second through ``replay.normalize_frame``, the exact path of the live connectors (JSON decode,
venue parser, pydantic contract models). Frames are read into memory first; only parsing is
timed. Where cryptofeed 2.4.1 is importable and has a feed for the venue, the same frames go
through its ``message_handler`` (JSON decode, parsing, its own book keeping, no-op callbacks)
in the same process, and the ratio ours / cryptofeed is printed. cryptofeed is not a project
dependency: without it the comparison column says why it is empty.

cryptofeed's symbol tables come from the recorded start-up data (``NAME.0``) and its REST book
snapshots from the recorded ``NAME.http.*`` responses, so nothing touches the network.
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
from services.ingest.venue import VenueAdapter  # noqa: E402
from services.instruments.catalog import InstrumentCatalog, load_snapshot  # noqa: E402
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


@dataclass
class Source:
    venue: ExchangeId
    path: Path
    label: str


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
    return [s for s in sources if s.venue in ours]


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


def adapter_with_recorded_instruments(venue: ExchangeId, data: Path, source: Source) -> VenueAdapter:
    """The venue adapter, its catalog extended with the instruments a cryptofeed capture used."""
    adapter = adapter_for(venue, load_snapshot())
    if not source.label.startswith("cryptofeed/"):
        return adapter
    payloads, _ = startup_data(data, cryptofeed_name(source.path) or "")
    extra = []
    for payload in payloads:
        with contextlib.suppress(Exception):  # an old payload shape the current parser rejects
            extra.extend(adapter.parse_instruments(payload))
    if not extra:
        return adapter
    known = [i for e in registered_venues() for i in instruments_of(e)]
    catalog = InstrumentCatalog(known + extra, version="benchmark")
    return adapter_for(venue, catalog)


def measure_ours(adapter: VenueAdapter, frames: list[CapturedFrame], min_seconds: float) -> Result:
    total = Result(0, 0, 0, 0.0)
    while total.seconds < min_seconds:
        events = rejected = 0
        started = time.perf_counter()
        for frame in frames:
            try:
                events += len(normalize_frame(adapter, frame) or ())
            except FrameRejected:
                rejected += 1
        total.seconds += time.perf_counter() - started
        total.frames += len(frames)
        total.events, total.rejected = events, rejected
    return total


# --- cryptofeed ---------------------------------------------------------------------------------


def cryptofeed_runner(
    venue: ExchangeId, data: Path, frames: list[CapturedFrame], *, recorded_by_cryptofeed: bool
) -> tuple[Callable[[], Result] | None, str]:
    """A function that pushes the frames through a fresh cryptofeed feed, or why there is none."""
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
            conn = types.SimpleNamespace(uuid="benchmark", conn_id="benchmark", id="benchmark")
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


def measure_cryptofeed(run: Callable[[], Result], min_seconds: float) -> Result:
    total = Result(0, 0, 0, 0.0)
    while total.seconds < min_seconds:
        once = run()
        total.frames += once.frames
        total.seconds += once.seconds
        total.events, total.rejected = once.events, once.rejected
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="Minimum timed seconds per measurement.")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
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
        adapter = adapter_with_recorded_instruments(source.venue, args.data, source)
        capture = open_capture(source.path, exchange=source.venue)
        frames = list(capture.frames)
        if not frames:
            continue
        ours = measure_ours(adapter, frames, args.seconds)
        runner, note = cryptofeed_runner(
            source.venue, args.data, frames, recorded_by_cryptofeed=source.label.startswith("cryptofeed/")
        )
        theirs = measure_cryptofeed(runner, args.seconds) if runner else None
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
