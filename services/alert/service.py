"""The alert service's shell: analytics topics in; ``alerts.v1``, history and outbox rows out.

- Inputs: the topics named by ``PERPWATCH_ALERT_INPUTS`` that are registered in
  ``schemas/topics.py`` (``analytics.*`` expands to every registered ``analytics.`` topic).
- Rules: the built-ins (``core/builtin.py``), then an optional rules file
  (``PERPWATCH_ALERT_RULES_FILE``), then the compacted ``alert.rules.v1`` topic, read to its end
  when partitions are first assigned and followed live afterwards (``rules_feed.py``): a change
  takes effect before the next record, without a restart.
- Outputs, per notification of the core: one ``alerts.v1`` event, one ``alert_history`` row, and
  for a delivered (not suppressed) one, one ``alert_outbox`` row per configured webhook, which
  ``delivery.py`` sends. Everything is keyed by the notification's idempotency key, so a replayed
  batch inserts nothing twice.
- Restart: alerts that were firing are restored from ``alert_history`` (only rows whose source
  record is below the committed offset: later ones are re-produced by the replay), so a restart
  neither re-announces them nor loses their resolution.

One replica: inhibition needs every ``md.status.v1`` partition next to the market alerts, and the
state is small (one entry per rule and series).
"""

import logging
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from psycopg.types.json import Jsonb
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.alert import AlertNotification, AlertRule, AlertRuleChange, AlertRuleFile, AlertStatus
from schemas.topics import TOPICS_BY_NAME
from services.alert.core.builtin import BUILTIN_RULES, builtin_rules
from services.alert.core.catalog import MetricCatalog, registered_catalog
from services.alert.core.engine import AlertEngine, EventRejected
from services.alert.core.rules import RuleError
from services.alert.delivery import parse_webhooks
from services.alert.metrics import FIRING, NOTIFICATIONS, RULE_CHANGES, RULES, RULES_REFUSED
from services.runtime.service import Output, RejectedInput
from services.runtime.settings import Settings
from services.runtime.sink import Table, ns_to_datetime

log = logging.getLogger(__name__)

SERVICE = "alert"
ALERTS_TOPIC = "alerts.v1"
RULES_TOPIC = "alert.rules.v1"
DEFAULT_INPUTS = (
    "arb.opportunities.v1,liquidity.metrics.v1,liquidity.anomalies.v1,analytics.*,md.candles.v1,md.status.v1"
)

ALERT_HISTORY = Table(
    "alert_history",
    (
        "idempotency_key",
        "fingerprint",
        "status",
        "rule_id",
        "rule_name",
        "severity",
        "labels",
        "metric",
        "condition",
        "threshold",
        "value",
        "starts_at",
        "ends_at",
        "event_ts",
        "starts_at_ns",
        "event_ts_ns",
        "reminder",
        "summary",
        "reason",
        "suppressed",
        "source_topic",
        "source_partition",
        "source_offset",
    ),
)
ALERT_OUTBOX = Table("alert_outbox", ("idempotency_key", "webhook", "payload", "event_ts"))


class AlertSettings(BaseSettings):
    """Alert-only knobs, from ``PERPWATCH_ALERT_*``."""

    model_config = SettingsConfigDict(env_prefix="PERPWATCH_ALERT_", extra="ignore", frozen=True)

    inputs: str = Field(
        default=DEFAULT_INPUTS,
        description="Topics to evaluate rules on, comma separated; `prefix.*` expands; unregistered ones are skipped.",
    )
    rules_file: str = Field(default="", description='A rules file ({"rules": [...]}) loaded at start.')
    builtin_rules: bool = Field(default=True, description="Load the built-in rules (core/builtin.py).")
    webhooks: str = Field(
        default="",
        description="Webhook targets `name=url[|format[:chat_id]]` joined by ','; format json (default), slack or telegram.",
    )
    restore_history: bool = Field(
        default=True, description="Restore firing alerts from alert_history at start."
    )
    lateness_ms: int = Field(
        default=5000,
        ge=0,
        description="Event-topic timers (connector down for T, ...) wait this long behind the data partitions (ms).",
    )
    idle_ms: int = Field(
        default=60_000,
        ge=0,
        description="A data partition this far (ms of event time) behind the fastest does not hold the watermark back.",
    )


def input_topics(spec: str, registered: list[str]) -> tuple[str, ...]:
    """Expand ``prefix.*`` against the registered topics; keep only registered ones, in order."""
    topics: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        matches = (
            [name for name in registered if name.startswith(item[:-1])] if item.endswith(".*") else [item]
        )
        topics.extend(m for m in matches if m in registered and m not in topics)
    return tuple(topics)


def load_rules_file(path: str | Path) -> list[AlertRule]:
    """The rules of a rules file; raises ``ValueError`` with the reasons of a malformed one."""
    try:
        return AlertRuleFile.model_validate_json(Path(path).read_bytes()).rules
    except ValidationError as exc:
        raise ValueError(f"rules file {path}: {exc}") from None


def history_row(note: AlertNotification, topic: str, partition: int, offset: int) -> tuple[Any, ...]:
    return (
        note.idempotency_key,
        note.fingerprint,
        note.status.value,
        note.rule_id,
        note.rule_name,
        note.severity.value,
        Jsonb(note.labels),
        note.metric,
        note.condition.value,
        note.threshold,
        note.value,
        ns_to_datetime(note.starts_at),
        ns_to_datetime(note.ends_at) if note.ends_at is not None else None,
        ns_to_datetime(note.event_ts),
        note.starts_at,
        note.event_ts,
        note.reminder,
        note.summary,
        note.reason,
        note.suppressed,
        topic,
        partition,
        offset,
    )


class AlertProcessor:
    service = SERVICE

    def __init__(
        self,
        engine: AlertEngine,
        inputs: tuple[str, ...],
        *,
        webhooks: tuple[str, ...] = (),
        restore_history: bool = True,
    ) -> None:
        self.engine = engine
        self.inputs = inputs
        self.row_origin = {ALERT_HISTORY.name: ALERTS_TOPIC, ALERT_OUTBOX.name: ALERTS_TOPIC}
        self._webhooks = webhooks
        self._restore_history = restore_history
        self._logical: dict[str, str] = {}
        self._pending_notes: list[AlertNotification] = []
        self._feed: Any = None  # RulesFeed, started on the first assignment
        self._restored = False
        self.rejected_rules: dict[str, list[str]] = {}

    # --- rules -------------------------------------------------------------------------

    def queue_rule_change(self, change: AlertRuleChange) -> None:
        """Called by the rules feed, between batches (same event loop): the change applies now;
        the notifications it causes (open alerts of a changed rule resolve) go out with the
        next record."""
        self._pending_notes.extend(self.apply_rule_change(change))

    def apply_rule_change(self, change: AlertRuleChange) -> list[AlertNotification]:
        try:
            if change.rule is None:
                notes = self.engine.remove_rule(change.rule_id)
            else:
                notes = self.engine.set_rule(change.rule)
        except RuleError as exc:
            # The API validates before storing; this is a rule for a topic this instance does not
            # read (PERPWATCH_ALERT_INPUTS), or a contract changed under it.
            self.rejected_rules[change.rule_id] = exc.reasons
            RULE_CHANGES.labels("refused").inc()
            RULES_REFUSED.set(len(self.rejected_rules))
            log.warning("rule change not applied", extra={"rule": change.rule_id, "reasons": exc.reasons})
            return []
        self.rejected_rules.pop(change.rule_id, None)
        RULE_CHANGES.labels("applied").inc()
        RULES_REFUSED.set(len(self.rejected_rules))
        RULES.set(len(self.engine.rules))
        log.info("rule change applied", extra={"rule": change.rule_id, "deleted": change.rule is None})
        return notes

    @property
    def following_rules(self) -> bool:
        """True once the rule topic was read to its end and is followed live."""
        return self._feed is not None

    def summary(self) -> dict[str, Any]:
        """Counts for the summary line of ``perpwatch analyze alerts``."""
        stats = self.engine.stats
        return {
            "events": stats.events,
            "samples": stats.samples,
            "late_samples": stats.late_samples,
            "firing": stats.firing,
            "reminders": stats.reminders,
            "resolved": stats.resolved,
            "suppressed": stats.suppressed,
            "still_firing": len(self.engine.firing()),
            "rules": len(self.engine.rules),
            "rules_refused": self.rejected_rules,
        }

    # --- partition lifecycle -------------------------------------------------------------

    def assigned(self, partitions: set[TopicPartition]) -> None:
        pass  # alert state is not per partition: one replica holds every series

    def revoked(self, partitions: set[TopicPartition]) -> None:
        pass

    async def restore(
        self, partitions: set[TopicPartition], committed: dict[TopicPartition, int | None], settings: Settings
    ) -> dict[TopicPartition, int]:
        """First assignment: read the rule topic to its end, follow it, restore firing alerts."""
        self._logical = {settings.topic_name(name): name for name in self.inputs}
        if self._feed is None:
            from services.alert.rules_feed import RulesFeed

            self._feed = RulesFeed(settings)
            for change in await self._feed.load():
                self._pending_notes.extend(self.apply_rule_change(change))
            self._feed.follow(self.queue_rule_change)
        if self._restore_history and not self._restored:
            self._restored = True
            offsets = {(tp.topic, tp.partition): offset for tp, offset in committed.items()}
            for last in await _firing_alerts(settings.database_url, offsets):
                self._pending_notes.extend(self.engine.restore(last))
        return {}

    async def close(self) -> None:
        if self._feed is not None:
            await self._feed.close()

    # --- records -------------------------------------------------------------------------

    def handle(self, record: ConsumerRecord[bytes, bytes], event: Any, out: Output) -> None:
        notes = self._pending_notes
        self._pending_notes = []
        topic = self._logical.get(record.topic, record.topic)
        try:
            notes.extend(self.engine.on_event(topic, event, (record.topic, record.partition)))
        except EventRejected as exc:
            raise RejectedInput("no_event_time", str(exc)) from None
        finally:
            for note in notes:
                self._emit(note, record, out)

    def _emit(self, note: AlertNotification, record: ConsumerRecord[bytes, bytes], out: Output) -> None:
        kind = "suppressed" if note.suppressed else note.status.value
        if kind == "firing" and note.reminder:
            kind = "reminder"
        NOTIFICATIONS.labels(note.rule_id, kind).inc()
        if note.reminder == 0 or note.status is AlertStatus.RESOLVED:  # a state change (rare)
            FIRING.labels(note.rule_id).set(sum(1 for s in self.engine.firing() if s.rule.id == note.rule_id))
        out.publish(ALERTS_TOPIC, note)
        out.add_row(ALERT_HISTORY, history_row(note, record.topic, record.partition, record.offset))
        if note.suppressed:
            return
        payload = Jsonb(note.model_dump(mode="json"))
        for webhook in self._webhooks:
            out.add_row(ALERT_OUTBOX, (note.idempotency_key, webhook, payload, ns_to_datetime(note.event_ts)))


# Rows of every episode without a resolution that is already committed; the rest is decided in
# Python with the same offsets (a row past its partition's commit is replayed, not restored).
_OPEN_EPISODES = """
WITH committed (topic, part, upto) AS (SELECT * FROM unnest(%s::text[], %s::int[], %s::bigint[]))
SELECT h.idempotency_key, h.fingerprint, h.status, h.rule_id, h.rule_name, h.severity, h.labels,
       h.metric, h.condition, h.threshold, h.value, h.starts_at_ns, h.event_ts_ns, h.reminder,
       h.summary, h.reason, h.suppressed, h.source_topic, h.source_partition, h.source_offset
FROM alert_history h
WHERE NOT EXISTS (
    SELECT 1 FROM alert_history r
    LEFT JOIN committed c ON c.topic = r.source_topic AND c.part = r.source_partition
    WHERE r.fingerprint = h.fingerprint AND r.starts_at_ns = h.starts_at_ns
      AND r.status = 'resolved' AND (c.upto IS NULL OR r.source_offset < c.upto)
)
ORDER BY h.fingerprint, h.event_ts_ns, h.reminder, h.status = 'resolved'
"""


async def _firing_alerts(
    database_url: str, committed: dict[tuple[str, int], int | None]
) -> list[AlertNotification]:
    """The last notification of every alert whose last state is firing, as of the commits.

    Rows produced by records at or past a partition's committed offset are ignored: the replay of
    those records produces them again, from the state restored here.
    """
    known = [(t, p, o) for (t, p), o in committed.items() if o is not None]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await (
            await conn.execute(
                _OPEN_EPISODES, ([t for t, _, _ in known], [p for _, p, _ in known], [o for *_, o in known])
            )
        ).fetchall()
    last: dict[str, AlertNotification] = {}
    for row in rows:
        (key, fp, status, rule_id, name, severity, labels, metric, condition, threshold, value) = row[:11]
        starts_at, event_ts, reminder, summary, reason, suppressed, topic, partition, offset = row[11:]
        limit = committed.get((topic, partition))
        if limit is not None and offset >= limit:
            continue
        if status == "resolved":
            last.pop(fp, None)
            continue
        last[fp] = AlertNotification(
            idempotency_key=key,
            fingerprint=fp,
            status=status,
            rule_id=rule_id,
            rule_name=name,
            severity=severity,
            labels=labels,
            metric=metric,
            condition=condition,
            threshold=threshold,
            value=value,
            starts_at=starts_at,
            event_ts=event_ts,
            reminder=reminder,
            summary=summary,
            reason=reason,
            suppressed=suppressed,
        )
    return [last[fp] for fp in sorted(last)]


def build_engine(
    inputs: tuple[str, ...],
    *,
    builtins: bool = True,
    rules: list[AlertRule] | None = None,
    lateness_ns: int = 0,
    idle_ns: int = 60_000_000_000,
) -> tuple[AlertEngine, dict[str, list[str]]]:
    """An engine over ``inputs`` with the built-ins and ``rules``; returns the reasons of left-out rules."""
    catalog: MetricCatalog = registered_catalog(inputs)
    engine = AlertEngine(catalog, lateness_ns=lateness_ns, idle_ns=idle_ns)
    left_out: dict[str, list[str]] = {}
    if builtins:
        usable, left_out = builtin_rules(catalog)
        for rule in usable:
            engine.set_rule(rule)
    for rule in rules or []:
        try:
            engine.set_rule(rule)
        except RuleError as exc:
            left_out[rule.id] = exc.reasons
    return engine, left_out


def build_processor(alert: AlertSettings | None = None) -> AlertProcessor:
    """The processor ``perpwatch run alert`` runs; configuration from ``PERPWATCH_ALERT_*``."""
    alert = alert or AlertSettings()
    inputs = input_topics(alert.inputs, list(TOPICS_BY_NAME))
    rules = load_rules_file(alert.rules_file) if alert.rules_file else []
    engine, left_out = build_engine(
        inputs,
        builtins=alert.builtin_rules,
        rules=rules,
        lateness_ns=alert.lateness_ms * 1_000_000,
        idle_ns=alert.idle_ms * 1_000_000,
    )
    enabled = {rule.id: rule.enabled for rule in (*BUILTIN_RULES, *rules)}
    for rule_id, reasons in left_out.items():
        # A disabled built-in for a topic this service does not read (e.g. the raw-liquidations
        # variant) is expected; only a rule the user meant to run is worth a warning.
        level = logging.WARNING if enabled.get(rule_id, True) else logging.INFO
        log.log(level, "rule left out", extra={"rule": rule_id, "reasons": reasons})
    webhooks = tuple(target.name for target in parse_webhooks(alert.webhooks))
    processor = AlertProcessor(engine, inputs, webhooks=webhooks, restore_history=alert.restore_history)
    processor.rejected_rules.update(left_out)
    RULES.set(len(engine.rules))
    RULES_REFUSED.set(len(left_out))
    return processor


def build_offline_processor(alert: AlertSettings | None = None) -> AlertProcessor:
    """For ``perpwatch analyze alerts FILE --rules RULES.json``: every registered topic is an input,
    no history, no webhooks; a bad rule is an error (``ValueError`` with every reason)."""
    alert = alert or AlertSettings()
    if not alert.rules_file and not alert.builtin_rules:
        raise ValueError(
            "offline alerting needs rules: --rules RULES.json (or PERPWATCH_ALERT_BUILTIN_RULES=true)"
        )
    rules = load_rules_file(alert.rules_file) if alert.rules_file else []
    inputs = tuple(name for name in TOPICS_BY_NAME if not name.startswith("alert"))
    engine, left_out = build_engine(inputs, builtins=alert.builtin_rules, rules=rules)
    problems = {k: v for k, v in left_out.items() if not k.startswith("builtin.")}
    if problems:
        raise ValueError(
            "bad rules: " + "; ".join(f"{k}: {' | '.join(v)}" for k, v in sorted(problems.items()))
        )
    return AlertProcessor(engine, inputs, restore_history=False)
