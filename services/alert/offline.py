"""``perpwatch analyze alerts FILE --rules RULES.json``: the alert core over a JSONL file.

Input: JSONL envelopes ``{"topic": ..., "key": ..., "event": {...}}`` of any topics (what
``perpwatch normalize`` prints and what the services publish). Events of topics no rule can read
are counted and skipped; events that do not match their contract are counted with the reason.
Output: one ``alerts.v1`` notification per line (``status`` is ``firing`` or ``resolved``), then
one summary line ``{"summary": {...}}``.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.alert import AlertNotification, AlertRule
from schemas.topics import TOPICS_BY_NAME
from services.alert.core.catalog import registered_catalog
from services.alert.core.engine import AlertEngine, EventRejected
from services.alert.core.rules import RuleError
from services.alert.service import load_rules_file


def engine_for(rules: list[AlertRule]) -> AlertEngine:
    """An engine over every registered topic; raises ``ValueError`` listing each bad rule's reasons."""
    engine = AlertEngine(registered_catalog())
    problems = []
    for rule in rules:
        try:
            engine.set_rule(rule)
        except RuleError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("bad rules: " + " | ".join(problems))
    return engine


def analyze(lines: Iterable[bytes | str], rules: list[AlertRule]) -> Iterator[str]:
    engine = engine_for(rules)
    skipped: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    events = 0
    notifications: Counter[str] = Counter()

    def emit(notes: list[AlertNotification]) -> Iterator[str]:
        for note in notes:
            kind = "suppressed" if note.suppressed else note.status.value
            notifications[kind if note.reminder == 0 or note.status.value == "resolved" else "reminder"] += 1
            yield note.model_dump_json()

    for line in lines:
        if not line.strip():
            continue
        try:
            envelope: Any = orjson.loads(line)
            topic = envelope["topic"]
            payload = envelope["event"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            rejected["not an envelope"] += 1
            continue
        if topic not in engine.catalog.topics or topic not in TOPICS_BY_NAME:
            skipped[str(topic)] += 1
            continue
        try:
            event = TOPICS_BY_NAME[topic].payload.validate_python(payload)
        except ValidationError as exc:
            rejected[f"{topic}: {exc.errors()[0]['msg']}"] += 1
            continue
        try:
            notes = engine.on_event(topic, event)
        except EventRejected as exc:
            rejected[str(exc)] += 1
            continue
        events += 1
        yield from emit(notes)
    summary = {
        "events": events,
        "notifications": sum(notifications.values()),
        "by_kind": dict(sorted(notifications.items())),
        "still_firing": len(engine.firing()),
        "rules": len(engine.rules),
        "late_samples": engine.stats.late_samples,
        "skipped_topics": dict(sorted(skipped.items())),
        "rejected": dict(sorted(rejected.items())),
    }
    yield orjson.dumps({"summary": summary}).decode()


def analyze_file(path: str | Path, rules_path: str | Path) -> Iterator[str]:
    """The CLI's entry: JSONL file in, JSONL lines out (the last one is the summary)."""
    rules = load_rules_file(rules_path)
    with Path(path).open("rb") as lines:
        yield from analyze(lines, rules)
