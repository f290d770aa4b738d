"""The book core on real recordings: venue tops, venue checksums, sequence chains, injected faults.

Production path first: frames go through ``services.venues.normalizer_for`` exactly as
``perpwatch book check`` does; a parser that reads no book frame of its sample fails (a broken
parser once turned its chain test into a skip).

Out of scope for the production path, stated once here: the cryptofeed samples of OKX, Bitget
(v1), KuCoin spot and Deribit options are in older API formats or of instruments today's parsers
do not read. ``test_older_samples_are_outside_the_production_parsers`` pins that fact (it fails
the day a parser starts reading one, so that sample can join the production-path tests), and the
same recordings are checked at the core level through ``legacy_frames`` (test-only reader).
"""

import gzip
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson
import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot
from services.book_builder.check import CheckReport, check_capture
from services.book_builder.core import BookBuilder, BookState, TopOfBook
from services.book_builder.core.builder import BookInvalidated, InvalidReason
from services.book_builder.core.checksum import ChecksumSpec, WireUnits, interleaved_crc32
from services.book_builder.core.sequence import ContiguousRangeRule, PrevIdSequenceRule, StreamOrderRule
from services.book_builder.venues import new_builder
from services.instruments.catalog import load_snapshot
from services.venues import normalizer_for
from tests.book_builder import legacy_frames

BookEvent = BookSnapshot | BookDelta


def _check(exchange: ExchangeId, path: Path) -> CheckReport:
    report = check_capture(exchange, "cryptofeed", path)
    assert report.book_events > 0, (
        f"the {exchange.value} parser reads none of its sample's book frames "
        f"(rejected: {dict(report.rejected)})"
    )
    return report


# --- production path: normalizer + core ------------------------------------------------------


def test_binance_rebuilt_tops_match_every_book_ticker(binance_capture: Path) -> None:
    report = check_capture(ExchangeId.BINANCE_USDM, "hftbacktest", binance_capture)
    assert report.bbo_checks >= 100
    assert report.mismatches == 0, report.first_mismatches
    assert (report.gaps, report.resyncs) == (0, 0)
    assert report.book_events == 6552


def test_gateio_sample_chains_have_no_gap(cryptofeed_dir: Path) -> None:
    report = _check(ExchangeId.GATEIO, cryptofeed_dir / "GATEIO_FUTURES.ws.1.0")
    assert report.books == 10
    assert report.book_events >= 350
    assert report.gaps == 0
    assert report.mismatches == 0, report.first_mismatches


@pytest.mark.parametrize(
    ("exchange", "sample"),
    [
        (ExchangeId.OKX, "OKX.ws.1.0"),
        (ExchangeId.BITGET, "BITGET.ws.2.0"),
        (ExchangeId.KUCOIN_FUTURES, "KUCOIN.ws.1.0"),
        (ExchangeId.DERIBIT, "DERIBIT.ws.1.0"),
    ],
)
def test_older_samples_are_outside_the_production_parsers(
    cryptofeed_dir: Path, exchange: ExchangeId, sample: str
) -> None:
    """Checked at the core level below; if a parser reads one now, move it to the tests above."""
    report = check_capture(exchange, "cryptofeed", cryptofeed_dir / sample)
    assert report.book_events == 0
    assert report.rejected, "the parser saw the frames and said why it refused them"


# --- the same recordings at the core level ---------------------------------------------------


def _run(events: Iterable[BookEvent], make: Callable[[], BookBuilder]) -> dict[str, BookBuilder]:
    books: dict[str, BookBuilder] = {}
    for event in events:
        builder = books.get(event.key)
        if builder is None:
            builder = books[event.key] = make()
        builder.on_event(event)
    return books


def _total(books: dict[str, BookBuilder], counter: str) -> int:
    return sum(getattr(b.counters, counter) for b in books.values())


def test_okx_every_checksum_of_the_sample_matches(cryptofeed_dir: Path) -> None:
    books = _run(
        legacy_frames.okx_books(cryptofeed_dir / "OKX.ws.1.0"),
        lambda: BookBuilder(StreamOrderRule("okx-2022"), checksum=ChecksumSpec(interleaved_crc32)),
    )
    assert _total(books, "checksum_checks") == 290  # as recorded: 290 book messages, all checksummed
    assert _total(books, "checksum_failures") == 0


def test_okx_inverse_swap_checksums_match_from_base_units(cryptofeed_dir: Path) -> None:
    """UNI-USD-SWAP converted to base units as the parser publishes it, checked back in contracts."""
    instrument = load_snapshot().get(ExchangeId.OKX, "UNI-USD-SWAP")
    units = WireUnits(instrument.contract_size, instrument.inverse, instrument.multiplier)
    builder = BookBuilder(StreamOrderRule("okx-2022"), checksum=ChecksumSpec(interleaved_crc32, units=units))
    for event in legacy_frames.okx_books(cryptofeed_dir / "OKX.ws.1.0"):
        if event.native_symbol == "UNI-USD-SWAP":
            bids = [(p, instrument.base_quantity(q, p)) for p, q in event.bids]
            asks = [(p, instrument.base_quantity(q, p)) for p, q in event.asks]
            builder.on_event(event.model_copy(update={"bids": bids, "asks": asks}))
    assert builder.counters.checksum_checks == 93
    assert builder.counters.checksum_failures == 0


def test_bitget_every_checksum_of_the_sample_matches(cryptofeed_dir: Path) -> None:
    books = _run(
        legacy_frames.bitget_books(cryptofeed_dir / "BITGET.ws.2.0"),
        lambda: BookBuilder(StreamOrderRule("bitget-v1"), checksum=ChecksumSpec(interleaved_crc32)),
    )
    assert _total(books, "checksum_checks") == 194
    assert _total(books, "checksum_failures") == 0


def test_kucoin_sequence_chains_from_rest_snapshots_have_no_gap(cryptofeed_dir: Path) -> None:
    books = _run(
        legacy_frames.kucoin_spot_books(cryptofeed_dir / "KUCOIN.ws.1.0", cryptofeed_dir / "KUCOIN.http.0.0"),
        lambda: BookBuilder(ContiguousRangeRule("kucoin"), snapshot_always_resets=False),
    )
    assert _total(books, "snapshots") == 9
    assert _total(books, "applied") > 3000
    assert _total(books, "gaps") == 0
    assert all(b.state is BookState.LIVE for b in books.values())


def test_deribit_change_id_chains_have_no_gap(cryptofeed_dir: Path) -> None:
    books = _run(
        legacy_frames.deribit_books(cryptofeed_dir / "DERIBIT.ws.1.0"),
        lambda: BookBuilder(PrevIdSequenceRule("deribit")),
    )
    assert _total(books, "applied") > 30
    assert _total(books, "gaps") == 0


# --- injected faults on real data ------------------------------------------------------------


def _binance_events(path: Path) -> list[BookEvent]:
    normalizer = normalizer_for(ExchangeId.BINANCE_USDM, load_snapshot())
    events: list[BookEvent] = []
    with gzip.open(path, "rb") as lines:
        for line in lines:
            stamp, raw = line.split(b" ", 1)
            if raw.startswith(b'{"lastUpdateId"'):
                found = normalizer.normalize_rest_snapshot(orjson.loads(raw), "BTCUSDT", int(stamp))
            elif b"depthUpdate" in raw:
                found = normalizer.normalize(orjson.loads(raw), int(stamp))
            else:
                continue
            events.extend(e for e in found if isinstance(e, BookSnapshot | BookDelta))
    return events


def _fresh_snapshot(reference: BookBuilder, template: BookEvent) -> BookSnapshot:
    """What a REST snapshot taken right now would return: the reference book, complete."""
    assert reference.last_seq is not None
    return BookSnapshot(
        exchange=template.exchange,
        symbol=template.symbol,
        native_symbol=template.native_symbol,
        exchange_ts=template.exchange_ts,
        receive_ts=template.receive_ts,
        sequence={"last": reference.last_seq},
        bids=reference.book.bids(),
        asks=reference.book.asks(),
    )


def _replay_with_fault(
    events: list[BookEvent], make: Callable[[], BookBuilder], dropped: int, resync_after: int
) -> tuple[BookBuilder, BookBuilder, list[object]]:
    """Drop one event; once ``resync_after`` has arrived, feed a fresh snapshot, as a resync would."""
    reference, faulty = make(), make()
    outcomes: list[object] = []
    for index, event in enumerate(events):
        reference.on_event(event)
        if index != dropped:
            outcomes.extend(faulty.on_event(event))
        if index == resync_after:
            outcomes.append("resync")
            outcomes.extend(faulty.on_event(_fresh_snapshot(reference, event)))
    return reference, faulty, outcomes


@pytest.mark.parametrize("dropped", [20, 2500, 6000])
def test_binance_missing_diff_is_detected_resynced_and_rebuilt_exactly(
    binance_capture: Path, dropped: int
) -> None:
    events = _binance_events(binance_capture)
    catalog = load_snapshot()
    reference, faulty, outcomes = _replay_with_fault(
        events, lambda: new_builder(ExchangeId.BINANCE_USDM, "BTCUSDT", catalog), dropped, dropped + 40
    )
    broken = next(i for i, o in enumerate(outcomes) if isinstance(o, BookInvalidated))
    resync = outcomes.index("resync")
    first_break = outcomes[broken]
    assert isinstance(first_break, BookInvalidated)
    assert first_break.kind is InvalidReason.GAP
    assert not any(isinstance(o, TopOfBook) for o in outcomes[broken:resync]), (
        "nothing published while broken"
    )
    assert faulty.counters.gaps == 1
    assert faulty.counters.resyncs == 1
    assert faulty.state is BookState.LIVE
    assert faulty.last_seq == reference.last_seq
    assert faulty.book.bids() == reference.book.bids()
    assert faulty.book.asks() == reference.book.asks()


def test_okx_missing_update_is_caught_by_the_checksum_and_rebuilt(cryptofeed_dir: Path) -> None:
    """The 2022 OKX books carry no sequence ids: only the checksum can see a lost update."""
    events = [
        e for e in legacy_frames.okx_books(cryptofeed_dir / "OKX.ws.1.0") if e.native_symbol == "BTC-USDT"
    ]
    reference, faulty, outcomes = _replay_with_fault(
        events,
        lambda: BookBuilder(StreamOrderRule("okx-2022"), checksum=ChecksumSpec(interleaved_crc32)),
        dropped=50,
        resync_after=60,
    )
    broken = [o for o in outcomes if isinstance(o, BookInvalidated)]
    assert [b.kind for b in broken] == [InvalidReason.CHECKSUM]
    assert faulty.counters.resyncs == 1
    assert faulty.book.bids() == reference.book.bids()
    assert faulty.book.asks() == reference.book.asks()
    assert faulty.counters.checksum_failures == 1
