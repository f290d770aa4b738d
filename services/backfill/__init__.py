"""Backfill: history from the venues' REST APIs (klines, funding, open interest) into the tables.

Layers, lowest first: ``core`` (pure: windows, page plans, resume arithmetic), ``history`` (what
a venue's history module is; each venue's, ``services/venues/<exchange>/history.py``, holds its
history endpoints: requests and parsers, next to nothing else), ``store`` (the database:
coverage and idempotent writes), ``runner`` (REST calls through the ingest rate limiter). The CLI
(``perpwatch backfill``) and the analytics start-up step use ``runner``.
"""
