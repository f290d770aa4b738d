"""perpwatch's own venue: a deterministic matching engine and its scriptable runner.

The pure core lives in :mod:`services.matching.engine` (no I/O, no wall clock); the
runner and CLI in this package drive it from JSONL command files.
"""
