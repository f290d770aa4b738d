"""Lifecycle of one opportunity per (kind, ordered pair): candidate -> open -> closed -> cooldown.

An opportunity opens only after it persisted for ``persist_evaluations`` qualifying evaluations
or ``persist_ns`` of event time, whichever comes first; any evaluation that does not qualify (too
small, too thin, or blocked by a guard) resets the candidate. Once open it emits ``updated``
when its peak improved (at most once per ``update_interval_ns``) and ``closed`` with its duration
and peak when the value falls below ``close_below`` or a guard blocks it. After a close the pair
may not reopen for ``cooldown_ns``.
"""

from dataclasses import dataclass
from enum import StrEnum


class Transition(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class LifecycleRules:
    open_at: float
    close_below: float
    persist_evaluations: int = 5
    persist_ns: int = 1_000_000_000
    cooldown_ns: int = 30_000_000_000
    update_interval_ns: int = 1_000_000_000


@dataclass(slots=True)
class OpenOpportunity:
    opportunity_id: str
    first_seen_ts: int
    opened_ts: int
    peak: float
    peak_ts: int
    seq: int = 0
    last_emitted_ts: int = 0
    peak_dirty: bool = False
    value: float = 0.0


@dataclass(frozen=True, slots=True)
class Step:
    """What one evaluation did to the lifecycle: a transition to publish, or nothing."""

    transition: Transition
    opportunity: OpenOpportunity
    ts: int
    reason: str = ""


class PairLifecycle:
    __slots__ = ("candidate_count", "candidate_since", "cooldown_until", "current")

    def __init__(self) -> None:
        self.candidate_since = -1
        self.candidate_count = 0
        self.cooldown_until = -1
        self.current: OpenOpportunity | None = None

    @property
    def active(self) -> bool:
        """Open or a candidate: every evaluation of the pair matters."""
        return self.current is not None or self.candidate_count > 0

    def observe(
        self, ts: int, value: float | None, blocked: str | None, rules: LifecycleRules, id_prefix: str
    ) -> Step | None:
        """Feed one evaluation: ``value`` None means not computable (too thin, no book).

        An opened opportunity's id is ``{id_prefix}@{opened_ts}``: deterministic, so a replay of the
        same input names it the same way.
        """
        current = self.current
        if current is not None:
            return self._while_open(current, ts, value, blocked, rules)
        if blocked is not None or value is None or value < rules.open_at or ts < self.cooldown_until:
            self.candidate_since = -1
            self.candidate_count = 0
            return None
        if self.candidate_count == 0:
            self.candidate_since = ts
        self.candidate_count += 1
        if self.candidate_count < rules.persist_evaluations and ts - self.candidate_since < rules.persist_ns:
            return None
        opened = OpenOpportunity(
            opportunity_id=f"{id_prefix}@{ts}",
            first_seen_ts=self.candidate_since,
            opened_ts=ts,
            peak=value,
            peak_ts=ts,
            last_emitted_ts=ts,
            value=value,
        )
        self.current = opened
        self.candidate_since = -1
        self.candidate_count = 0
        return Step(Transition.OPENED, opened, ts)

    def _while_open(
        self,
        current: OpenOpportunity,
        ts: int,
        value: float | None,
        blocked: str | None,
        rules: LifecycleRules,
    ) -> Step | None:
        if blocked is not None or value is None or value < rules.close_below:
            reason = (
                f"guard:{blocked}" if blocked is not None else "too_thin" if value is None else "converged"
            )
            return self.close(ts, reason, rules)
        current.value = value
        if value > current.peak:
            current.peak = value
            current.peak_ts = ts
            current.peak_dirty = True
        if current.peak_dirty and ts - current.last_emitted_ts >= rules.update_interval_ns:
            current.peak_dirty = False
            current.last_emitted_ts = ts
            current.seq += 1
            return Step(Transition.UPDATED, current, ts)
        return None

    def close(self, ts: int, reason: str, rules: LifecycleRules) -> Step:
        current = self.current
        assert current is not None
        current.seq += 1
        current.last_emitted_ts = ts
        self.current = None
        self.cooldown_until = ts + rules.cooldown_ns
        return Step(Transition.CLOSED, current, ts, reason)

    def restore(self, opened: OpenOpportunity | None, cooldown_until: int) -> None:
        """Reinstall what the database says (after a restart): an open opportunity and/or a cooldown."""
        self.current = opened
        self.cooldown_until = cooldown_until
        self.candidate_since = -1
        self.candidate_count = 0
