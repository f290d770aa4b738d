"""``perpwatch book check``: replay a capture through the venue's normalizer and the book core.

No Kafka and no database: every frame goes through the same parser the live connector uses, every
book event through the same ``BookBuilder`` the service uses. The rebuilt top of book is compared
with the venue's own top-of-book messages wherever both refer to the same update id (Binance
``bookTicker.u`` equals a depth ``u``), and venue checksums are verified by the core as it goes.

Captures are read by ``services/ingest/captures.py``:

- ``hftbacktest``: gzip lines ``<receive ns> <raw frame>``, REST depth snapshots inline;
- ``cryptofeed``: a ``NAME.ws.C.N`` file; the REST book snapshots of the same recording
  (``NAME.http.*``) are merged in by time, recognised by the venue's ``book_snapshot_request``.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Literal

import orjson

from schemas.common import ExchangeId
from schemas.market_data import BestBidOffer, BookDelta, BookSnapshot
from services.book_builder.core.builder import BookBuilder, BookState
from services.book_builder.venues import new_builder
from services.ingest.captures import (
    CapturedFrame,
    native_symbol_of,
    read_cryptofeed,
    read_hftbacktest,
    snapshot_matcher,
)
from services.ingest.normalizer import FrameRejected, VenueNormalizer
from services.ingest.venues import adapter_for, normalizer_for
from services.instruments.catalog import InstrumentCatalog, load_snapshot

CaptureFormat = Literal["hftbacktest", "cryptofeed"]
Quote = tuple[Decimal, Decimal, Decimal, Decimal]


@dataclass
class CheckReport:
    messages: int = 0
    bbo_checks: int = 0
    mismatches: int = 0
    checksum_checks: int = 0
    checksum_failures: int = 0
    gaps: int = 0
    resyncs: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    books: int = 0
    book_events: int = 0
    first_mismatches: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """The one JSON line the command prints last."""
        return {
            "messages": self.messages,
            "bbo_checks": self.bbo_checks,
            "mismatches": self.mismatches,
            "checksum_checks": self.checksum_checks,
            "checksum_failures": self.checksum_failures,
            "gaps": self.gaps,
            "resyncs": self.resyncs,
        }


def read_frames(
    path: Path, capture_format: CaptureFormat, exchange: ExchangeId, catalog: InstrumentCatalog
) -> Iterator[CapturedFrame]:
    """Frames in receive order; REST book snapshots flagged, with the instrument they are about."""
    if capture_format == "hftbacktest":
        native_symbol = native_symbol_of(path)  # a single-instrument capture
        for frame in read_hftbacktest(path):
            yield replace(frame, native_symbol=native_symbol) if frame.is_rest_snapshot else frame
        return
    adapter = adapter_for(exchange, catalog)
    yield from read_cryptofeed(path, snapshot_matcher(adapter.book_snapshot_request))


# --- the check ------------------------------------------------------------------------------


@dataclass
class _Book:
    builder: BookBuilder
    tops: dict[int, Quote] = field(default_factory=dict)


class BookCheck:
    """Feeds frames through a normalizer and one ``BookBuilder`` per book, collecting a report."""

    def __init__(self, exchange: ExchangeId, catalog: InstrumentCatalog | None = None) -> None:
        self.exchange = exchange
        self.catalog = catalog or load_snapshot()
        self.normalizer: VenueNormalizer = normalizer_for(exchange, self.catalog)
        self.books: dict[str, _Book] = {}
        self.venue_tops: dict[tuple[str, int], Quote] = {}
        self.report = CheckReport()

    def feed(self, frame: CapturedFrame) -> None:
        self.report.messages += 1
        try:
            payload = frame.decode()
            if not isinstance(payload, dict):
                raise FrameRejected("malformed", "frame is not a JSON object")
            if frame.is_rest_snapshot:
                if frame.native_symbol is None:
                    raise FrameRejected("unknown_instrument", "a REST snapshot without its instrument")
                events = self.normalizer.normalize_rest_snapshot(
                    payload, frame.native_symbol, frame.receive_ts
                )
            else:
                events = self.normalizer.normalize(payload, frame.receive_ts)
        except orjson.JSONDecodeError:
            self.report.rejected["invalid_json"] += 1
            return
        except FrameRejected as exc:
            self.report.rejected[exc.error_type] += 1
            return
        for event in events:
            if isinstance(event, BookSnapshot | BookDelta):
                self._book_event(event)
            elif isinstance(event, BestBidOffer) and event.sequence is not None:
                quote = (event.bid_price, event.bid_quantity, event.ask_price, event.ask_quantity)
                self.venue_tops[(event.key, event.sequence)] = quote

    def _book_event(self, event: BookSnapshot | BookDelta) -> None:
        self.report.book_events += 1
        book = self.books.get(event.key)
        if book is None:
            book = self.books[event.key] = _Book(
                new_builder(event.exchange, event.native_symbol, self.catalog)
            )
        builder = book.builder
        before = builder.counters.applied + builder.counters.snapshots
        builder.on_event(event)
        # The top after every applied update, keyed by the update id it reflects: the venue's
        # own top-of-book message for that id must show exactly this.
        applied = builder.counters.applied + builder.counters.snapshots != before
        if applied and builder.state is BookState.LIVE and builder.last_seq is not None:
            bid, ask = builder.book.best_bid(), builder.book.best_ask()
            if bid is not None and ask is not None:
                book.tops[builder.last_seq] = (bid[0], bid[1], ask[0], ask[1])

    def finish(self) -> CheckReport:
        report = self.report
        report.books = len(self.books)
        for key, book in self.books.items():
            counters = book.builder.counters
            report.checksum_checks += counters.checksum_checks
            report.checksum_failures += counters.checksum_failures
            report.gaps += counters.gaps
            report.resyncs += counters.resyncs
            for seq, rebuilt in book.tops.items():
                venue = self.venue_tops.get((key, seq))
                if venue is None:
                    continue
                report.bbo_checks += 1
                if venue != rebuilt:
                    report.mismatches += 1
                    if len(report.first_mismatches) < 5:
                        report.first_mismatches.append(f"{key} @ {seq}: venue {venue} rebuilt {rebuilt}")
        return report


def check_capture(
    exchange: ExchangeId, capture_format: CaptureFormat, path: Path, catalog: InstrumentCatalog | None = None
) -> CheckReport:
    check = BookCheck(exchange, catalog)
    for frame in read_frames(path, capture_format, exchange, check.catalog):
        check.feed(frame)
    return check.finish()
