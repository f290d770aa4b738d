"""Samples every running service once a second: RSS, records consumed, rows written, lag.

Read from each process's own /metrics (Prometheus text) and /proc/PID/status, so the figures
are what an operator's dashboard would show.
"""

import asyncio
import contextlib
import time
import urllib.request
from dataclasses import dataclass, field

from tests.system.pipeline import Pipeline


@dataclass
class Sample:
    t: float  # seconds since the run started
    service: str
    rss_mb: float
    consumed: float  # records consumed so far (all inputs)
    published: float  # events published so far (all outputs; what ingest does)
    rows: float  # rows written so far (all tables)
    lag: float  # records on its inputs not consumed yet (the service's own gauge)
    dead_letters: float


@dataclass
class Timeline:
    started: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)  # (t, what happened)
    lags: list[tuple[float, str, int]] = field(default_factory=list)  # (t, service, records behind)

    def mark(self, what: str) -> None:
        self.events.append((time.monotonic() - self.started, what))


def _metrics(port: int) -> dict[str, float]:
    """Sums per metric name of a process's /metrics (labels summed away)."""
    totals: dict[str, float] = {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
        for line in answer.read().decode().splitlines():
            if not line or line.startswith("#"):
                continue
            name_part, _, value = line.rpartition(" ")
            name = name_part.split("{", 1)[0]
            try:
                totals[name] = totals.get(name, 0.0) + float(value)
            except ValueError:
                continue
    return totals


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def sample_once(pipeline: Pipeline, timeline: Timeline) -> None:
    now = time.monotonic() - timeline.started
    for label, service in list(pipeline.running.items()):
        if service.process.poll() is not None:
            continue
        try:
            metrics = _metrics(service.port)
        except OSError:
            metrics = {}  # paused (SIGSTOP) or restarting: RSS still tells something
        timeline.samples.append(
            Sample(
                t=now,
                service=label,
                rss_mb=_rss_mb(service.process.pid),
                consumed=metrics.get("perpwatch_messages_consumed_total", float("nan")),
                published=metrics.get("perpwatch_events_published_total", float("nan")),
                rows=metrics.get("perpwatch_sink_rows_written_total", float("nan")),
                lag=metrics.get("perpwatch_consumer_lag", float("nan")),
                dead_letters=metrics.get("perpwatch_dead_letters_total", 0.0),
            )
        )


async def sample_lag(pipeline: Pipeline, timeline: Timeline) -> None:
    """Records each service's group has not committed yet, read from Kafka (not the service's gauge,
    which a paused or killed service cannot update)."""
    now = time.monotonic() - timeline.started
    per_service: dict[str, int] = {}
    for where, behind in (await pipeline.lag()).items():
        service = where.split(":", 1)[0]
        per_service[service] = per_service.get(service, 0) + behind
    timeline.lags.extend((now, service, behind) for service, behind in per_service.items())


async def sample_forever(pipeline: Pipeline, timeline: Timeline, every_s: float = 1.0) -> None:
    turn = 0
    while True:
        await asyncio.to_thread(sample_once, pipeline, timeline)
        if turn % 2 == 0:
            with contextlib.suppress(Exception):  # the broker may be the fault being injected
                await sample_lag(pipeline, timeline)
        turn += 1
        await asyncio.sleep(every_s)
