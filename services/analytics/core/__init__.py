"""The market-analytics core: no I/O, no clock, deterministic for a given input order per stream."""
