"""<Venue>: <its book sequence fields and where its snapshots come from, with the doc page>.

Pick the rule from ``services/book_builder/core/sequence.py`` (add the venue's documentation to
its docstring), ``SnapshotSource.REST`` or ``STREAM``, and a checksum from ``core/checksum.py``
if the venue sends one: e.g. ``BookSpec(ContiguousRangeRule("<exchange id>"), SnapshotSource.STREAM)``.
"""

from services.book_builder.core.rules import BookSpec
from services.venues.parts import placeholder

BOOK_SPEC: BookSpec = placeholder("book.BOOK_SPEC")
