"""Snapshot records: chunked, reassembled, the latest complete snapshot wins."""

import pytest

from services.matching import snapshots
from services.matching.engine import MatchingEngine
from services.matching.runner import run_commands
from services.matching.snapshots import EngineSnapshot, SnapshotAssembler, encode_chunks
from services.matching.workload import venue_command_lines


def _engine(commands: int) -> MatchingEngine:
    engine = MatchingEngine()
    for _ in run_commands(venue_command_lines(commands), engine):
        pass
    return engine


def test_a_chunked_snapshot_restores_the_same_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "CHUNK_BYTES", 1000)
    engine = _engine(2000)
    records = encode_chunks(EngineSnapshot(2, 2001, engine.snapshot()))
    assert len(records) > 3
    assert {key for key, _ in records} == {f"2:{i}".encode() for i in range(len(records))}
    assembler = SnapshotAssembler()
    for _, value in records:
        assembler.add(value)
    restored = assembler.latest(2)
    assert restored is not None
    assert restored.offset == 2001
    assert MatchingEngine.restore(restored.engine).state_hash() == engine.state_hash()


def test_an_incomplete_newer_snapshot_falls_back_to_the_last_complete_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapshots, "CHUNK_BYTES", 1000)
    older, newer = _engine(300), _engine(1500)
    assembler = SnapshotAssembler()
    for _, value in encode_chunks(EngineSnapshot(0, 301, older.snapshot())):
        assembler.add(value)
    for _, value in encode_chunks(EngineSnapshot(0, 1501, newer.snapshot()))[:-1]:
        assembler.add(value)
    assembler.add(None)  # a compaction tombstone is ignored
    restored = assembler.latest(0)
    assert restored is not None
    assert restored.offset == 301
    assert MatchingEngine.restore(restored.engine).state_hash() == older.state_hash()


def test_no_snapshot_yet() -> None:
    assert SnapshotAssembler().latest(0) is None
