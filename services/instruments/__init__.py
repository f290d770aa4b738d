"""Instrument metadata shared by every service: the catalog, its committed snapshots and cache.

Below the services that use it (ingest, book-builder, the analytics services): nothing here
imports a service. Refreshing the cache from the venues needs their REST adapters, so that
lives with them in ``services.ingest.instrument_refresh``.
"""
