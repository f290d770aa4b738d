"""The report's figures (matplotlib, no display): throughput, lag and RSS over time, latency."""

import itertools
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display; chosen before pyplot is imported
import matplotlib.pyplot as plt
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from matplotlib.axes import Axes

from services.runtime.settings import Settings
from services.runtime.topics import partitions_of

from .sampler import Sample, Timeline


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")[:60]


def _mark_events(axis: Axes, timeline: Timeline) -> None:
    for t, what in timeline.events:
        axis.axvline(t, color="grey", linestyle=":", linewidth=1)
        axis.annotate(what, (t, 1), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                      va="top", ha="right", color="dimgrey")  # fmt: skip


def plot_timeline(timeline: Timeline, out_dir: Path, name: str) -> list[str]:
    """Three figures of one run: records/s per service, lag, RSS; fault events as lines."""
    services = sorted({s.service for s in timeline.samples})
    files = []
    figure, axes = plt.subplots(4, 1, figsize=(9, 11), sharex=True)
    for index, service in enumerate(services):
        # One color per service in every panel: a panel skips services it has nothing for.
        color = f"C{index % 10}"
        mine = sorted((s for s in timeline.samples if s.service == service), key=lambda s: s.t)
        # A source (ingest) consumes nothing: its throughput is what it publishes.
        counter = "published" if all(math.isnan(s.consumed) for s in mine) else "consumed"
        for axis, field in ((axes[0], counter), (axes[3], "rows")):
            rates = _rates(mine, field)
            if rates:
                label = f"{service} (published)" if field == "published" else service
                axis.plot([t for t, _ in rates], [r for _, r in rates], label=label, linewidth=1, color=color)
        lags = [(t, behind) for t, name, behind in timeline.lags if name == service]
        if lags:
            axes[1].plot([t for t, _ in lags], [v for _, v in lags], label=service, linewidth=1, color=color)
        axes[2].plot([s.t for s in mine], [s.rss_mb for s in mine], label=service, linewidth=1, color=color)
    axes[0].set_ylabel("records consumed / s")
    axes[1].set_ylabel("uncommitted input (records)")
    axes[2].set_ylabel("RSS (MB)")
    axes[3].set_ylabel("rows written / s")
    axes[3].set_xlabel("seconds since start")
    for axis in axes:
        _mark_events(axis, timeline)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper right")
    figure.suptitle(name)
    figure.tight_layout()
    path = out_dir / f"{_slug(name)}.png"
    figure.savefig(path, dpi=90)
    plt.close(figure)
    files.append(str(path))
    return files


def _rates(samples: list[Sample], field: str) -> list[tuple[float, float]]:
    """Per-second rate of a counter between consecutive samples (restarts and gaps skipped)."""
    rates = []
    for a, b in itertools.pairwise(samples):
        before, after = getattr(a, field), getattr(b, field)
        if b.t > a.t and not math.isnan(before) and not math.isnan(after) and after >= before:
            rates.append((b.t, (after - before) / (b.t - a.t)))
    return rates


async def _timestamps(settings: Settings, logical: str) -> list[tuple[bytes | None, bytes, int]]:
    name = settings.topic_name(logical)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, isolation_level="read_committed")
    await consumer.start()
    found: list[tuple[bytes | None, bytes, int]] = []
    try:
        partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                found.extend((r.key, r.value, r.timestamp) for r in batch if r.value is not None)
    finally:
        await consumer.stop()
    return found


async def plot_latency(settings: Settings, path: Path) -> dict[str, float]:
    """md.book.v1 record -> its book.bbo.v1 event, by Kafka timestamps (ms); a histogram and quantiles."""
    inputs = {}
    for key, value, ts in await _timestamps(settings, "md.book.v1"):
        document = orjson.loads(value)
        inputs[(key, document["sequence"]["last"])] = ts
    delays = []
    for key, value, ts in await _timestamps(settings, "book.bbo.v1"):
        source = inputs.get((key, orjson.loads(value)["venue_seq"]))
        if source is not None:
            delays.append(ts - source)
    if not delays:
        return {}
    delays.sort()
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.hist(delays, bins=60, color="steelblue")
    axis.set_xlabel("md.book.v1 -> book.bbo.v1 on Kafka (ms)")
    axis.set_ylabel("events")
    axis.set_title(f"end-to-end latency, {len(delays)} top-of-book events")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)

    def quantile(q: float) -> float:
        return float(delays[min(len(delays) - 1, int(q * len(delays)))])

    return {"p50": quantile(0.5), "p90": quantile(0.9), "p99": quantile(0.99), "max": float(delays[-1])}
