"""Liquidity service: book metrics and liquidity-crunch detection (``book.l2.v1`` + ``md.trades.v1`` in)."""
