"""``perpwatch book check``: replay a capture through the venue's normalizer and the book core.

No Kafka and no database: every frame goes through the same parser the live connector uses, every
book event through the same ``BookBuilder`` the service uses. The rebuilt top of book is compared
with the venue's own top-of-book messages wherever both refer to the same update id (Binance
``bookTicker.u`` equals a depth ``u``), and venue checksums are verified by the core as it goes.

Captures are read by ``services/ingest/captures.py``:

- ``hftbacktest``: gzip lines ``<receive ns> <raw frame>``, REST depth snapshots inline;
- ``cryptofeed``: a ``NAME.ws.C.N`` file; the REST book snapshots of the same recording
  (``NAME.http.*``) are merged in by time, recognised by the venue's ``book_snapshot_request``;
- ``capture``: a ``perpwatch capture`` recording (WebSocket frames and REST snapshots);
- ``raw``: one JSON frame per line.

Frames are opened and parsed by ``services.ingest.replay`` (``open_capture``, ``normalize_frame``),
the same path ``perpwatch normalize`` and ``replay`` take, and every frame is tallied
(``FrameTally``): normalized, control or rejected with a reason.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from schemas.common import ExchangeId
from schemas.market_data import BestBidOffer, BookDelta, BookSnapshot
from services.book_builder.core.builder import BookBuilder, BookState
from services.book_builder.venues import new_builder
from services.ingest.captures import CapturedFrame
from services.ingest.normalizer import FrameRejected
from services.ingest.replay import FrameTally, normalize_frame, open_capture
from services.ingest.venue import VenueAdapter
from services.instruments.catalog import InstrumentCatalog, load_snapshot
from services.venues import adapter_for

CAPTURE_FORMATS = ("auto", "hftbacktest", "cryptofeed", "capture", "raw")
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
    tally: FrameTally = field(default_factory=FrameTally)
    """Where every frame ended; ``tally.summary()`` is the command's last stderr line."""

    def summary(self) -> dict[str, int]:
        """The one JSON line the command prints last on stdout."""
        return {
            "messages": self.messages,
            "bbo_checks": self.bbo_checks,
            "mismatches": self.mismatches,
            "checksum_checks": self.checksum_checks,
            "checksum_failures": self.checksum_failures,
            "gaps": self.gaps,
            "resyncs": self.resyncs,
        }


# --- the check ------------------------------------------------------------------------------


@dataclass
class _Book:
    builder: BookBuilder
    tops: dict[int, Quote] = field(default_factory=dict)


class BookCheck:
    """Feeds frames through a normalizer and one ``BookBuilder`` per book, collecting a report."""

    def __init__(
        self,
        exchange: ExchangeId,
        catalog: InstrumentCatalog | None = None,
        *,
        adapter: VenueAdapter | None = None,
    ) -> None:
        """``adapter`` (whose normalizer was built on ``catalog``) defaults to the venue's, on ``catalog``."""
        self.exchange = exchange
        self.catalog = catalog or load_snapshot()
        self.adapter = adapter or adapter_for(exchange, self.catalog)
        self.books: dict[str, _Book] = {}
        self.venue_tops: dict[tuple[str, int], Quote] = {}
        self.report = CheckReport()

    def feed(self, frame: CapturedFrame) -> None:
        self.report.messages += 1
        try:
            events = normalize_frame(self.adapter, frame)
        except FrameRejected as exc:
            self.report.rejected[exc.error_type] += 1
            self.report.tally.reject(exc.error_type)
            return
        self.report.tally.count(events)
        for event in events or ():
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
    exchange: ExchangeId | None,
    capture_format: str,
    path: Path,
    catalog: InstrumentCatalog | None = None,
    *,
    instrument_cache: Path | None = None,
    instruments: Sequence[Path] = (),
) -> CheckReport:
    """Check every book of a capture. ``capture_format``: one of ``CAPTURE_FORMATS``.

    The venue a file declares (capture header, cryptofeed name) wins over ``exchange``.
    Instruments: ``catalog`` when given, else the committed snapshot overlaid with
    ``instrument_cache`` and ``instruments`` (saved instruments responses), as ``open_capture`` reads them.
    """
    capture = open_capture(
        path,
        exchange=exchange,
        fmt=capture_format,
        instrument_cache=instrument_cache,
        instruments=instruments,
    )
    if catalog is None:
        catalog = capture.catalog
        adapter = capture.adapter
    else:
        adapter = adapter_for(capture.exchange, catalog)
    check = BookCheck(capture.exchange, catalog, adapter=adapter)
    for frame in capture.frames:
        check.feed(frame)
    return check.finish()
