"""book-builder: validated L2 books from ``md.book.v1``.

Outputs ``book.bbo.v1`` (every top-of-book change), ``book.l2.v1`` (top N levels, throttled by
event time, and an ``invalid`` status when a book breaks), ``book_bbo``/``book_depth`` rows and
per-book metrics. ``core/`` is the pure, deterministic book logic; ``service.py`` the Kafka shell;
``resync.py`` REST snapshots for broken books; ``checkpoints.py`` restart without a wrong book;
``cli.py`` the offline ``perpwatch book check``.
"""
