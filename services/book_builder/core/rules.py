"""Which continuity rule, snapshot source and checksum apply to which venue's book.

``SnapshotSource.REST``: the venue's WebSocket sends only diffs; a book starts from (and resyncs
with) a REST snapshot. ``SnapshotSource.STREAM``: the venue sends a snapshot on the stream itself
(on subscribe, after a resubscribe, or on every message), so a broken book waits for it.
"""

from dataclasses import dataclass, replace
from enum import Enum

from schemas.common import ExchangeId
from services.book_builder.core.checksum import (
    ChecksumFunction,
    ChecksumSpec,
    WireUnits,
    bitget_checksum,
    okx_checksum,
)
from services.book_builder.core.sequence import (
    BinanceSequenceRule,
    ContiguousRangeRule,
    IncreasingRule,
    PrevIdSequenceRule,
    SequenceRule,
    SnapshotOnlyRule,
    StreamOrderRule,
)


class SnapshotSource(Enum):
    REST = "rest"
    STREAM = "stream"


@dataclass(frozen=True)
class BookSpec:
    rule: SequenceRule
    snapshot_source: SnapshotSource
    checksum: ChecksumFunction | None = None
    checksum_depth: int = 25

    def checksum_spec(self, units: WireUnits | None) -> ChecksumSpec | None:
        """The checksum check for one instrument; None when the venue has none or units are unknown."""
        if self.checksum is None or units is None:
            return None
        return ChecksumSpec(self.checksum, self.checksum_depth, units)


_BOOK_SPECS: dict[ExchangeId, BookSpec] = {
    ExchangeId.BINANCE_USDM: BookSpec(BinanceSequenceRule(), SnapshotSource.REST),
    ExchangeId.BINANCE_COINM: BookSpec(BinanceSequenceRule(), SnapshotSource.REST),
    ExchangeId.OKX: BookSpec(PrevIdSequenceRule("okx"), SnapshotSource.STREAM, checksum=okx_checksum),
    ExchangeId.DERIBIT: BookSpec(PrevIdSequenceRule("deribit"), SnapshotSource.STREAM),
    ExchangeId.GATEIO: BookSpec(ContiguousRangeRule("gateio"), SnapshotSource.REST),
    ExchangeId.KUCOIN_FUTURES: BookSpec(ContiguousRangeRule("kucoin_futures"), SnapshotSource.REST),
    ExchangeId.MEXC: BookSpec(ContiguousRangeRule("mexc"), SnapshotSource.REST),
    ExchangeId.BYBIT: BookSpec(ContiguousRangeRule("bybit"), SnapshotSource.STREAM),
    ExchangeId.BITGET: BookSpec(
        PrevIdSequenceRule("bitget", ordered_without_prev=True),
        SnapshotSource.STREAM,
        checksum=bitget_checksum,
    ),
    ExchangeId.PHEMEX: BookSpec(IncreasingRule("phemex"), SnapshotSource.STREAM),
    ExchangeId.BITMEX: BookSpec(StreamOrderRule("bitmex"), SnapshotSource.STREAM),
    ExchangeId.HYPERLIQUID: BookSpec(SnapshotOnlyRule("hyperliquid"), SnapshotSource.STREAM),
    # CoinDCX futures pushes full depth snapshots; should its parser ever emit diffs, ordering by
    # the message version is all that can be checked.
    ExchangeId.COINDCX: BookSpec(IncreasingRule("coindcx"), SnapshotSource.STREAM),
}


def book_spec_for(exchange: ExchangeId, *, checksum: ChecksumFunction | None = None) -> BookSpec:
    """The venue's spec; ``checksum`` supplies a checksum function the core does not define."""
    spec = _BOOK_SPECS[exchange]
    return replace(spec, checksum=checksum) if checksum is not None else spec


def sequence_rule_for(exchange: ExchangeId) -> SequenceRule | None:
    spec = _BOOK_SPECS.get(exchange)
    return spec.rule if spec is not None else None
