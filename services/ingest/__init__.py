"""Ingestors: venue frames in, normalized ``md.*`` events out.

Each venue's parsers are in its package, ``services/venues/<exchange>/adapter.py``, behind the
``VenueAdapter`` / ``VenueNormalizer`` interfaces (``venue.py``, ``normalizer.py``); live
connectors, ``perpwatch replay`` and ``perpwatch normalize`` all go through the same parsers.
"""
