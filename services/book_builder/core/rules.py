"""What a venue's book needs checked: its continuity rule, snapshot source and checksum.

Each venue declares its ``BookSpec`` in ``services/venues/<exchange>/book.py``; the rules and
the checksum algorithms it picks from are here, in ``sequence.py`` and ``checksum.py``.

``SnapshotSource.REST``: the venue's WebSocket sends only diffs; a book starts from (and resyncs
with) a REST snapshot. ``SnapshotSource.STREAM``: the venue sends a snapshot on the stream itself
(on subscribe, after a resubscribe, or on every message), so a broken book waits for it.
"""

from dataclasses import dataclass
from enum import Enum

from services.book_builder.core.checksum import ChecksumFunction, ChecksumSpec, WireUnits
from services.book_builder.core.sequence import SequenceRule


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
