"""Feed JSONL commands through a matching engine and yield the output events.

This is the scriptable venue used by ``perpwatch venue run`` and by the test suite: no
Kafka, no clock, the same engine code path as the service.  Blank lines and lines
starting with ``#`` are skipped so scenario files can carry comments.  A line that is
not valid JSON is answered with a sequenced ``invalid_json`` rejection rather than an
exception.
"""

from collections.abc import Iterable, Iterator

import orjson

from services.matching.engine import InvalidCommand, MatchingEngine, decode_command, encode_event, reasons
from services.matching.engine.commands import Command
from services.matching.engine.wire import WireEvent


def parse_line(line: str | bytes, engine: MatchingEngine) -> Command | None:
    """The command on one JSONL line, or ``None`` for a blank or comment line."""
    text = line.strip()
    if not text or text[:1] in ("#", b"#"):
        return None
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        return InvalidCommand("", "", "", "", reasons.INVALID_JSON)
    return decode_command(raw, engine.symbols)


def run_commands(lines: Iterable[str | bytes], engine: MatchingEngine | None = None) -> Iterator[WireEvent]:
    """Process every command line in order, yielding wire events as they are produced."""
    engine = MatchingEngine() if engine is None else engine
    symbols = engine.symbols
    for line in lines:
        command = parse_line(line, engine)
        if command is None:
            continue
        for event in engine.process(command):
            yield encode_event(event, symbols)


def run_to_jsonl(lines: Iterable[str | bytes], engine: MatchingEngine | None = None) -> Iterator[bytes]:
    """Like :func:`run_commands`, each event serialized as one JSON line (with newline)."""
    for wire in run_commands(lines, engine):
        yield orjson.dumps(wire, option=orjson.OPT_APPEND_NEWLINE)
