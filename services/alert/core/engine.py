"""The alert state machine: inactive -> pending -> firing -> resolved, per rule and series.

A *series* is one rule applied to one set of identity labels (e.g. exchange=okx,
symbol=ETH-USDT-PERP). Its samples are the rule's metric read from matching events; the
condition holds from one sample to the next (sample and hold), and a windowed aggregate is
re-evaluated when a sample leaves the window.

The only clock is exchange time. Due work (``for`` elapsed, ``keep_firing_for`` elapsed, a
reminder due, a sample leaving its window, a snooze ending) is kept in deadline heaps and done
*at the deadline's own time*, never at the time it happens to be noticed:

- per *lane*: the input a series' samples come from (the shell passes the Kafka topic and
  partition; offline, the topic). A lane's clock is the highest event time seen on it, and a
  series' deadlines are due when its lane's clock reaches them (before the samples of the event
  that reached them). Within a lane, input order is fixed, so the result does not depend on how
  the consumer interleaves partitions (it handles a batch partition by partition, so one
  partition can be minutes of event time ahead of another in the middle of a batch);
- *event topics* (``EVENT_TOPICS``: a connector's status, crunch start/end, opportunities,
  spikes, flow windows) publish only when something happens, so their lanes fall silent. Their
  series are also due when the *watermark* reaches them: the slowest clock among the data lanes
  (the others) that are not idle (``idle`` behind the fastest), minus ``lateness``. The slowest,
  so that a data partition ahead in a batch does not decide for one behind it. Data lanes are
  never moved by other lanes.

So the same input in the same order gives the same notifications with the same timestamps,
whatever the wall clock; for data lanes, per-partition order alone decides. Cross-lane facts
(inhibition, the event topics' timers) depend on the watermark, as in any stream processor.

Semantics, as Prometheus and Alertmanager define them:

- ``for``: the condition must hold for the whole duration; a false sample in between returns the
  series to inactive (a sample exactly at the deadline decides).
- ``keep_firing_for``: once firing, a cleared condition resolves only after this long; a true
  sample in between keeps it firing without a new notification (no flapping).
- ``repeat_interval``: while firing with the condition holding, a reminder no more often than
  this (0: never); none while it is only kept firing by ``keep_firing_for``.
- crossings (``crosses above|below``) are instants: they fire at the crossing sample and resolve
  ``keep_firing_for`` later unless crossed again.
- a resolved notification is sent for every alert whose firing notification was delivered.
- snooze and inhibition (a connector of the venue is disconnected or stale, per ``md.status.v1``)
  block delivery: the first blocked firing notification of an episode is published marked
  ``suppressed`` with the reason, reminders are skipped, and the firing notification is
  delivered once the block lifts while the alert still fires.
"""

import hashlib
import heapq
import itertools
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

import orjson

from schemas.alert import Aggregate, AlertNotification, AlertRule, AlertStatus, Condition
from services.alert.core.catalog import MetricCatalog, is_venue_label
from services.alert.core.rules import CROSSING, CompiledRule, compile_rule

STATUS_TOPIC = "md.status.v1"
# Topics that publish on change only (see the module docstring); the rest are data streams.
EVENT_TOPICS = frozenset(
    {
        STATUS_TOPIC,
        "liquidity.anomalies.v1",
        "arb.opportunities.v1",
        "analytics.spikes.v1",
        "analytics.flow.v1",
    }
)
DOWN_STATES = frozenset({"disconnected", "stale"})

Ident = tuple[tuple[str, str], ...]


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class EventRejected(ValueError):
    """An event the engine cannot place in time (no event timestamp)."""


@dataclass(slots=True, eq=False)
class Series:
    rule: CompiledRule
    ident: Ident
    labels: dict[str, str]
    fingerprint: str
    venues: tuple[str, ...]
    symbol: str | None
    state: AlertState = AlertState.INACTIVE
    clock: int = -1  # time of the last evaluation; never goes back
    condition: bool = False
    value: Decimal | None = None
    last_sample_ts: int = -1
    active_since: int | None = None
    starts_at: int | None = None
    false_since: int | None = None
    last_sent: int | None = None
    reminders: int = 0
    delivered: bool = False  # a firing notification of this episode was delivered
    suppressed_said: bool = False  # a suppressed firing notification of this episode was published
    samples: deque[tuple[int, Decimal]] | None = None
    window_sum: Decimal = Decimal(0)  # of `samples`, kept as they come and go (exact in Decimal)
    extremes: deque[tuple[int, Decimal]] | None = None  # monotonic deque for max/min windows
    deadline: int | None = None
    removed: bool = False
    lane: Hashable = None


@dataclass(slots=True)
class Connection:
    down: bool
    state: str
    since: int
    symbols: frozenset[str]


@dataclass
class EngineStats:
    events: int = 0
    samples: int = 0
    late_samples: int = 0
    ticks: int = 0
    firing: int = 0
    reminders: int = 0
    resolved: int = 0
    suppressed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def fingerprint_of(labels: dict[str, str]) -> str:
    """Stable across processes and versions: sha256 of the sorted labels as JSON."""
    return hashlib.sha256(orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _read(event: Any, path: str) -> Any:
    """A field of the event; ``parent.child`` reads one level down (``buy.exchange``)."""
    if "." not in path:
        return getattr(event, path, None)
    value = event
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def _label_value(value: Any) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def _as_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if value == value and value not in (float("inf"), float("-inf")) else None
    return None


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration_text(ns: int) -> str:
    seconds = ns // 1_000_000_000
    if seconds < 60:
        return f"{ns / 1e9:g}s"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


class AlertEngine:
    """Rules in, events in, notifications out. Deterministic, no I/O, no clock."""

    def __init__(
        self,
        catalog: MetricCatalog,
        rules: Iterable[AlertRule] = (),
        *,
        lateness_ns: int = 0,
        idle_ns: int = 60 * 1_000_000_000,
        event_topics: frozenset[str] = EVENT_TOPICS,
    ) -> None:
        self.catalog = catalog
        self.now = 0  # the highest event time seen on any lane
        self.lateness_ns = lateness_ns
        self.idle_ns = idle_ns
        self.event_topics = event_topics
        self._data_clocks: dict[Hashable, int] = {}  # clock of every data lane
        self._event_lanes: set[Hashable] = {None}  # lanes moved by the watermark (None: restored)
        self.stats = EngineStats()
        self._rules: dict[str, CompiledRule] = {}
        self._by_topic: dict[str, list[CompiledRule]] = {}
        self._series: dict[str, dict[Ident, Series]] = {}
        # The same series by identity first: one hash of the labels per event, not per rule.
        self._by_ident: dict[Ident, dict[str, Series]] = {}
        self._heaps: dict[Hashable, list[tuple[int, int, Series]]] = {}
        self._order = itertools.count()
        self._connections: dict[str, dict[str, Connection]] = {}
        for rule in rules:
            self.set_rule(rule)

    # --- rules -------------------------------------------------------------------------

    @property
    def rules(self) -> dict[str, AlertRule]:
        return {rule_id: compiled.rule for rule_id, compiled in self._rules.items()}

    def set_rule(self, rule: AlertRule) -> list[AlertNotification]:
        """Add or replace a rule; raises ``RuleError``. Returns notifications it causes.

        A change of what the rule evaluates (metric, condition, threshold, scope, durations
        of ``for``/``keep_firing_for``, labels) or disabling it resolves its open alerts; other
        changes (name, severity, repeat interval, snooze) apply to them in place.
        """
        compiled = compile_rule(rule, self.catalog)
        out: list[AlertNotification] = []
        old = self._rules.get(rule.id)
        if old is not None:
            if not rule.enabled:
                self._drop_series(rule.id, "rule disabled", out)
            elif old.semantics != compiled.semantics or not old.rule.enabled:
                self._drop_series(rule.id, "rule changed", out)
            else:
                for series in self._series.get(rule.id, {}).values():
                    series.rule = compiled
                    if series.state is AlertState.FIRING:
                        self._step(series, max(self.now, series.clock), out)
        self._rules[rule.id] = compiled
        self._index()
        return out

    def remove_rule(self, rule_id: str) -> list[AlertNotification]:
        out: list[AlertNotification] = []
        if self._rules.pop(rule_id, None) is not None:
            self._drop_series(rule_id, "rule deleted", out)
            self._index()
        return out

    def _index(self) -> None:
        by_topic: dict[str, list[CompiledRule]] = {}
        for rule_id in sorted(self._rules):  # a fixed order keeps the output order fixed
            compiled = self._rules[rule_id]
            if compiled.rule.enabled:
                by_topic.setdefault(compiled.topic.topic, []).append(compiled)
        self._by_topic = by_topic

    def _drop_series(self, rule_id: str, reason: str, out: list[AlertNotification]) -> None:
        for series in self._series.pop(rule_id, {}).values():
            self._by_ident.get(series.ident, {}).pop(rule_id, None)
            if series.state is AlertState.FIRING:
                self._resolve(series, max(self.now, series.clock), reason, out)
            series.removed = True

    # --- events ------------------------------------------------------------------------

    def on_event(self, topic: str, event: Any, lane: Hashable = None) -> list[AlertNotification]:
        """Evaluate one event of ``topic`` read from ``lane`` (default: the topic).

        Returns the notifications it made due, in the order they were decided: its own lane's
        (in time order), then those of silent lanes that the watermark reached.
        """
        if lane is None:
            lane = topic
        fields = self.catalog.topics.get(topic)
        if fields is None or fields.time_field is None:
            raise EventRejected(f"topic {topic!r} is not one the alert rules can read")
        ts = getattr(event, fields.time_field, None)
        if not isinstance(ts, int) or isinstance(ts, bool):
            raise EventRejected(f"{topic} event has no integer {fields.time_field}")
        self.stats.events += 1
        out: list[AlertNotification] = []
        self._advance_lane(lane, ts, out, inclusive=False)
        rules = self._by_topic.get(topic)
        if rules:
            ident: Ident = tuple(
                (name, _label_value(value))
                for name in fields.labels
                if (value := _read(event, name)) is not None
            )
            labels = dict(ident)
            of_ident = self._by_ident.get(ident)
            if of_ident is None:
                of_ident = self._by_ident[ident] = {}
            stats = self.stats
            for rule in rules:
                if rule.filtered and not self._matches(rule, labels, event):
                    continue
                field = rule.plain_field
                if field is not None:
                    value = getattr(event, field, None)
                else:
                    assert rule.read is not None
                    value = rule.read(event)
                if type(value) is not Decimal:
                    value = _as_decimal(value)
                    if value is None:
                        continue
                series = of_ident.get(rule.id)
                if series is None:
                    series = self._series_of(rule, ident, labels, lane)
                compare = rule.compare
                if (
                    compare is not None
                    and series.samples is None
                    and series.lane == lane
                    and ts >= series.last_sample_ts
                    and (series.deadline is None or series.deadline >= ts)
                ):
                    # The hot path of a plain comparison: the state machine only when it can move.
                    stats.samples += 1
                    series.last_sample_ts = ts
                    series.value = value
                    t = ts if ts > series.clock else series.clock
                    state = series.state
                    if compare(value, rule.threshold):
                        series.condition = True
                        if state is AlertState.FIRING:
                            sent = series.last_sent
                            quiet = (
                                series.false_since is None
                                and series.delivered
                                and (not rule.repeat_ns or (sent is not None and t - sent < rule.repeat_ns))
                            )
                        else:
                            since = series.active_since
                            quiet = (
                                state is AlertState.PENDING and since is not None and t - since < rule.for_ns
                            )
                    else:
                        series.condition = False
                        quiet = state is AlertState.INACTIVE or state is AlertState.RESOLVED
                    if quiet:
                        series.clock = t
                    else:
                        self._step(series, t, out)
                    continue
                self._sample(series, ts, value, lane, out)
        if topic == STATUS_TOPIC:
            # After the connector rules, so a recovery reads: connector resolved, then what it held.
            self._on_status(event, ts, out)
        self._advance_lane(lane, ts, out, inclusive=True)
        if ts > self.now:
            self.now = ts
        if topic in self.event_topics:
            self._event_lanes.add(lane)
        elif ts > self._data_clocks.get(lane, -1):
            self._data_clocks[lane] = ts
        self._advance_all(self._watermark(), out, self._event_lanes)
        return out

    def _watermark(self) -> int:
        clocks = self._data_clocks
        if not clocks:
            return self.now - self.lateness_ns
        fastest = max(clocks.values())
        return min(c for c in clocks.values() if c >= fastest - self.idle_ns) - self.lateness_ns

    def advance_to(self, ts: int) -> list[AlertNotification]:
        """Do the work due on every lane up to ``ts`` without an event (end of a file, a heartbeat)."""
        out: list[AlertNotification] = []
        self.now = max(self.now, ts)
        self._advance_all(ts, out, set(self._heaps))
        return out

    @staticmethod
    def _matches(rule: CompiledRule, labels: dict[str, str], event: Any) -> bool:
        scope = rule.rule.scope
        if scope.symbol is not None and labels.get("symbol") != scope.symbol:
            return False
        if scope.pair is not None and labels.get("pair") != scope.pair:
            return False
        if scope.exchange is not None and not any(
            value == scope.exchange for name, value in labels.items() if is_venue_label(name)
        ):
            return False
        for name, wanted in rule.rule.match.items():
            value = _read(event, name)
            if value is None or _label_value(value) != wanted:
                return False
        return True

    def _series_of(self, rule: CompiledRule, ident: Ident, labels: dict[str, str], lane: Hashable) -> Series:
        of_rule = self._series.setdefault(rule.id, {})
        series = of_rule.get(ident)
        if series is None:
            full = {"rule_id": rule.id, **labels, **rule.rule.labels}
            venues = tuple(dict.fromkeys(v for n, v in ident if is_venue_label(n)))
            series = of_rule[ident] = Series(
                rule=rule,
                ident=ident,
                labels=full,
                fingerprint=fingerprint_of(full),
                venues=venues,
                symbol=labels.get("symbol"),
                samples=deque() if rule.window_ns else None,
                extremes=deque() if rule.rule.aggregate in (Aggregate.MAX, Aggregate.MIN) else None,
                lane=lane,
            )
            self._by_ident.setdefault(ident, {})[rule.id] = series
        return series

    # --- the state machine ---------------------------------------------------------------

    def _sample(
        self, s: Series, ts: int, value: Decimal, lane: Hashable, out: list[AlertNotification]
    ) -> None:
        if ts < s.last_sample_ts:
            self.stats.late_samples += 1  # older than what the series already holds
            return
        if s.lane != lane:
            # Restored, or its key moved partitions: its deadlines follow its samples' lane.
            s.lane = lane
            s.deadline = None
            self._schedule(s, s.clock)
        while s.deadline is not None and s.deadline < ts:
            # Its own sample proves time passed on its lane: due work first, at its own time.
            deadline, s.deadline = s.deadline, None
            self._tick(s, deadline, out)
        self.stats.samples += 1
        s.last_sample_ts = ts
        t = ts if ts > s.clock else s.clock
        rule = s.rule
        previous = s.value
        if s.samples is not None:
            self._push(s, ts, value)
            current = self._aggregate(s, t)
        else:
            current = value
        s.value = current
        compare = rule.compare
        s.condition = (
            compare(current, rule.threshold)
            if compare is not None and current is not None
            else (self._holds(rule, current, previous))
        )
        crossing = compare is None and rule.condition in CROSSING
        if not (crossing and s.condition) and self._quiet(s, t):
            s.clock = t
            if s.samples is not None:
                self._schedule(s, t)  # the window's oldest sample may have changed
            return
        self._step(s, t, out)
        if rule.condition in CROSSING and s.condition:
            s.condition = False  # an instant: from here on it is cleared
            self._step(s, t, out)

    @staticmethod
    def _push(s: Series, ts: int, value: Decimal) -> None:
        assert s.samples is not None
        s.samples.append((ts, value))
        s.window_sum += value
        extremes = s.extremes
        if extremes is not None:
            # Keep only samples that can still be the max (min) of a later window: O(1) amortized.
            if s.rule.rule.aggregate is Aggregate.MAX:
                while extremes and extremes[-1][1] <= value:
                    extremes.pop()
            else:
                while extremes and extremes[-1][1] >= value:
                    extremes.pop()
            extremes.append((ts, value))

    @staticmethod
    def _aggregate(s: Series, t: int) -> Decimal | None:
        samples = s.samples
        assert samples is not None
        horizon = t - s.rule.window_ns
        while samples and samples[0][0] <= horizon:
            s.window_sum -= samples.popleft()[1]
        extremes = s.extremes
        while extremes and extremes[0][0] <= horizon:
            extremes.popleft()
        kind = s.rule.rule.aggregate
        if kind is Aggregate.COUNT:
            return Decimal(len(samples))
        if kind is Aggregate.SUM:
            return s.window_sum if samples else Decimal(0)
        if not samples:
            return None
        if kind is Aggregate.AVG:
            return s.window_sum / len(samples)
        if extremes:
            return extremes[0][1]
        return samples[-1][1]

    @staticmethod
    def _quiet(s: Series, t: int) -> bool:
        """Nothing can change for this sample: the hot path skips the state machine."""
        state = s.state
        if not s.condition:
            return state is AlertState.INACTIVE or state is AlertState.RESOLVED
        if state is AlertState.PENDING:
            assert s.active_since is not None
            return t - s.active_since < s.rule.for_ns
        if state is AlertState.FIRING and s.false_since is None and s.delivered:
            repeat = s.rule.repeat_ns
            return not repeat or (s.last_sent is not None and t - s.last_sent < repeat)
        return False

    @staticmethod
    def _holds(rule: CompiledRule, value: Decimal | None, previous: Decimal | None) -> bool:
        if value is None:
            return False
        threshold = rule.threshold
        condition = rule.condition
        if condition is Condition.GT:
            return value > threshold
        if condition is Condition.LT:
            return value < threshold
        if condition is Condition.GE:
            return value >= threshold
        if condition is Condition.LE:
            return value <= threshold
        if condition is Condition.EQ:
            return abs(value - threshold) <= rule.rule.tolerance
        if previous is None:
            return False
        if condition is Condition.CROSSES_ABOVE:
            return previous <= threshold < value
        return previous >= threshold > value

    def _tick(self, s: Series, t: int, out: list[AlertNotification]) -> None:
        self.stats.ticks += 1
        t = max(t, s.clock)
        if s.samples is not None:
            previous = s.value
            s.value = self._aggregate(s, t)
            if s.rule.condition not in CROSSING:
                s.condition = self._holds(s.rule, s.value, previous)
        self._step(s, t, out)

    def _step(self, s: Series, t: int, out: list[AlertNotification]) -> None:
        s.clock = t
        rule = s.rule
        if s.condition:
            s.false_since = None
            if s.state is AlertState.INACTIVE or s.state is AlertState.RESOLVED:
                s.state = AlertState.PENDING
                s.active_since = t
            if s.state is AlertState.PENDING:
                assert s.active_since is not None
                if t - s.active_since >= rule.for_ns:
                    s.state = AlertState.FIRING
                    s.starts_at = t
                    s.reminders = 0
                    s.delivered = s.suppressed_said = False
                    s.last_sent = None
        elif s.state is AlertState.PENDING:
            s.state = AlertState.INACTIVE
            s.active_since = None
        elif s.state is AlertState.FIRING:
            if s.false_since is None:
                s.false_since = t
            if t - s.false_since >= rule.keep_firing_ns:
                self._resolve(s, t, "condition cleared", out)
        if s.state is AlertState.FIRING:
            if not s.delivered:
                self._deliver_firing(s, t, out)
            elif (
                rule.repeat_ns
                and s.false_since is None  # no reminder for an alert that is only kept firing
                and s.last_sent is not None
                and t - s.last_sent >= rule.repeat_ns
            ):
                self._remind(s, t, out)
        self._schedule(s, t)

    def _schedule(self, s: Series, t: int) -> None:
        rule = s.rule
        due: list[int] = []
        if s.state is AlertState.PENDING and s.active_since is not None:
            due.append(s.active_since + rule.for_ns)
        elif s.state is AlertState.FIRING:
            if s.false_since is not None:
                due.append(s.false_since + rule.keep_firing_ns)
            if s.delivered and rule.repeat_ns and s.last_sent is not None and s.false_since is None:
                due.append(s.last_sent + rule.repeat_ns)
            snooze = rule.snooze_until_ns
            if not s.delivered and snooze is not None and snooze > t:
                due.append(snooze)
        if s.samples:
            due.append(s.samples[0][0] + rule.window_ns)
        deadline = min(due) if due else None
        if deadline is not None and deadline <= t:
            deadline = t + 1  # never due in the past: work at t is already done
        if deadline != s.deadline:
            s.deadline = deadline
            if deadline is not None:
                heap = self._heaps.get(s.lane)
                if heap is None:
                    heap = self._heaps[s.lane] = []
                heapq.heappush(heap, (deadline, next(self._order), s))

    def _pop_due(self, heap: list[tuple[int, int, Series]], out: list[AlertNotification]) -> None:
        deadline, _, series = heapq.heappop(heap)
        if series.removed or series.deadline != deadline:
            return  # superseded by a later schedule
        series.deadline = None
        self._tick(series, deadline, out)

    def _advance_lane(
        self, lane: Hashable, until: int, out: list[AlertNotification], *, inclusive: bool
    ) -> None:
        heap = self._heaps.get(lane)
        while heap and (heap[0][0] < until or (inclusive and heap[0][0] == until)):
            self._pop_due(heap, out)

    def _advance_all(self, until: int, out: list[AlertNotification], lanes: set[Hashable]) -> None:
        """These lanes' work due at or before ``until``, in deadline order across them."""
        heaps = [heap for lane, heap in self._heaps.items() if lane in lanes]
        while True:
            best: list[tuple[int, int, Series]] | None = None
            for heap in heaps:
                if heap and heap[0][0] <= until and (best is None or heap[0] < best[0]):
                    best = heap
            if best is None:
                return
            self._pop_due(best, out)

    # --- inhibition and snooze -----------------------------------------------------------

    def _on_status(self, event: Any, ts: int, out: list[AlertNotification]) -> None:
        exchange = _label_value(getattr(event, "exchange", ""))
        connection_id = str(getattr(event, "connection_id", ""))
        state = _label_value(getattr(event, "state", ""))
        down = state in DOWN_STATES
        connections = self._connections.setdefault(exchange, {})
        previous = connections.get(connection_id)
        since = previous.since if previous is not None and previous.down == down else ts
        connections[connection_id] = Connection(
            down=down, state=state, since=since, symbols=frozenset(getattr(event, "symbols", ()) or ())
        )
        if previous is not None and previous.down and not down:
            # The block lifted: alerts of this venue that fired meanwhile are delivered now.
            for rule_id in sorted(self._series):
                for series in self._series[rule_id].values():
                    if (
                        series.state is AlertState.FIRING
                        and not series.delivered
                        and exchange in series.venues
                    ):
                        self._step(series, max(ts, series.clock), out)

    def _blocked(self, s: Series, t: int) -> str:
        snooze = s.rule.snooze_until_ns
        if snooze is not None and t < snooze:
            return f"snoozed until {_iso(snooze)}"
        if s.rule.topic.topic == STATUS_TOPIC:
            return ""  # connector alerts are the inhibitors, never inhibited
        for venue in s.venues:
            for connection_id, connection in sorted(self._connections.get(venue, {}).items()):
                if connection.down and (
                    not connection.symbols or s.symbol is None or s.symbol in connection.symbols
                ):
                    return (
                        f"inhibited: {venue} connector {connection_id} {connection.state} "
                        f"since {_iso(connection.since)}"
                    )
        return ""

    # --- notifications -------------------------------------------------------------------

    def _deliver_firing(self, s: Series, t: int, out: list[AlertNotification]) -> None:
        reason = self._blocked(s, t)
        if reason:
            if not s.suppressed_said:
                s.suppressed_said = True
                out.append(self._notice(s, t, AlertStatus.FIRING, suppressed=reason))
            return
        s.delivered = True
        s.last_sent = t
        out.append(self._notice(s, t, AlertStatus.FIRING))

    def _remind(self, s: Series, t: int, out: list[AlertNotification]) -> None:
        s.last_sent = t
        if self._blocked(s, t):
            return  # a reminder while blocked is skipped, not queued
        s.reminders += 1
        out.append(self._notice(s, t, AlertStatus.FIRING))

    def _resolve(self, s: Series, t: int, reason: str, out: list[AlertNotification]) -> None:
        if s.delivered:
            out.append(self._notice(s, t, AlertStatus.RESOLVED, reason=reason))
        elif s.suppressed_said:
            out.append(
                self._notice(
                    s, t, AlertStatus.RESOLVED, reason=reason, suppressed="its firing was never delivered"
                )
            )
        s.state = AlertState.RESOLVED
        s.starts_at = s.active_since = s.false_since = s.last_sent = None
        s.delivered = s.suppressed_said = False
        s.reminders = 0

    def _notice(
        self, s: Series, t: int, status: AlertStatus, *, reason: str = "", suppressed: str = ""
    ) -> AlertNotification:
        rule = s.rule
        starts_at = s.starts_at if s.starts_at is not None else t
        key = f"{s.fingerprint}:{starts_at}:{status.value}:{s.reminders}"
        if suppressed:
            key += ":suppressed"
            self.stats.suppressed += 1
        elif status is AlertStatus.RESOLVED:
            self.stats.resolved += 1
        elif s.reminders:
            self.stats.reminders += 1
        else:
            self.stats.firing += 1
        self.stats.by_status[status.value] = self.stats.by_status.get(status.value, 0) + 1
        where = " ".join(f"{n}={v}" for n, v in s.ident) or "everywhere"
        if status is AlertStatus.FIRING:
            again = f" (reminder {s.reminders})" if s.reminders else ""
            summary = (
                f"{rule.rule.name}{again}: {rule.rule.metric} = {s.value} "
                f"{rule.condition.value} {rule.threshold} on {where}"
            )
            if rule.topic.topic == STATUS_TOPIC and s.venues:
                summary += f"; market alerts of {', '.join(s.venues)} are inhibited while it is down"
        else:
            summary = f"{rule.rule.name} resolved on {where} after {_duration_text(t - starts_at)}: {reason}"
        # Every field comes from a validated rule and the engine's own state: no re-validation
        # (the property tests round-trip notifications through the contract).
        return AlertNotification.model_construct(
            idempotency_key=key,
            fingerprint=s.fingerprint,
            status=status,
            rule_id=rule.id,
            rule_name=rule.rule.name,
            severity=rule.rule.severity,
            labels=dict(s.labels),
            metric=rule.rule.metric,
            condition=rule.condition,
            threshold=rule.threshold,
            value=s.value,
            starts_at=starts_at,
            ends_at=t if status is AlertStatus.RESOLVED else None,
            event_ts=t,
            reminder=s.reminders,
            summary=summary,
            reason=reason,
            suppressed=suppressed,
        )

    # --- restart -------------------------------------------------------------------------

    def restore(self, last: AlertNotification) -> list[AlertNotification]:
        """Continue an alert that was firing when the service stopped, from its last notification.

        The series is firing again, with its start, reminder count and delivery state, so the
        next samples neither re-announce it nor lose its resolution. An alert whose rule no longer
        exists (or changed its labels) is resolved at once.
        """
        if last.status is not AlertStatus.FIRING:
            return []
        compiled = self._rules.get(last.rule_id)
        out: list[AlertNotification] = []
        own = set(compiled.rule.labels) if compiled is not None else set()
        ident: Ident = tuple(
            sorted((n, v) for n, v in last.labels.items() if n != "rule_id" and n not in own)
        )
        series: Series | None = None
        if compiled is not None and compiled.rule.enabled:
            candidate = self._series_of(compiled, ident, dict(ident), None)
            if candidate.fingerprint == last.fingerprint:
                series = candidate
            else:
                self._series[compiled.id].pop(ident, None)
                self._by_ident.get(ident, {}).pop(compiled.id, None)
        t = max(last.event_ts, self.now)
        if series is None:
            orphan = Series(
                rule=compiled if compiled is not None else self._orphan_rule(last),
                ident=ident,
                labels=dict(last.labels),
                fingerprint=last.fingerprint,
                venues=(),
                symbol=None,
                state=AlertState.FIRING,
                value=last.value,
                starts_at=last.starts_at,
                reminders=last.reminder,
                delivered=not last.suppressed,
                suppressed_said=bool(last.suppressed),
            )
            self._resolve(orphan, t, "rule changed or deleted while the service was stopped", out)
            return out
        series.state = AlertState.FIRING
        series.condition = True
        series.value = last.value
        series.clock = last.event_ts
        series.starts_at = last.starts_at
        series.reminders = last.reminder
        series.delivered = not last.suppressed
        series.suppressed_said = bool(last.suppressed)
        series.last_sent = last.event_ts if series.delivered else None
        self._schedule(series, series.clock)
        return out

    def _orphan_rule(self, last: AlertNotification) -> CompiledRule:
        """A stand-in rule so an orphan alert can be resolved with its original identity."""
        rule = AlertRule(
            id=last.rule_id,
            name=last.rule_name,
            metric=last.metric,
            condition=last.condition,
            threshold=last.threshold,
            severity=last.severity,
            keep_firing_for="1s" if last.condition in CROSSING else "0s",
        )
        try:
            return compile_rule(rule, self.catalog)
        except ValueError:
            fields = next(iter(self.catalog.topics.values()))
            return CompiledRule(rule, fields, "", 0, 0, 0, 0, None, ())

    # --- introspection -------------------------------------------------------------------

    def series_states(self) -> dict[str, AlertState]:
        """State of every series by fingerprint (tests and metrics)."""
        return {s.fingerprint: s.state for by_ident in self._series.values() for s in by_ident.values()}

    def series_values(self) -> dict[str, Decimal | None]:
        """The value each series compares with its threshold, by fingerprint (tests and metrics)."""
        return {s.fingerprint: s.value for by_ident in self._series.values() for s in by_ident.values()}

    def firing(self) -> list[Series]:
        return [
            s
            for rule_id in sorted(self._series)
            for s in self._series[rule_id].values()
            if s.state is AlertState.FIRING
        ]
