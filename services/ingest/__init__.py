"""Ingestors: venue frames in, normalized ``md.*`` events out.

Each venue is one module under ``venues/`` behind the ``VenueNormalizer`` interface; live
connectors, ``perpwatch replay`` and ``perpwatch normalize`` all go through the same parsers.
"""
