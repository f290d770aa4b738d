"""``make report`` / ``python -m benchmarks.pipeline``: the pipeline under faults, as reports/system.md.

Runs the stream services as real processes, each run in a namespace and database of its own, on a
private Kafka and PostgreSQL started for the run on free ports and removed after (``--stack
private``, the default: a 30-minute soak must not load the stack other work shares), or on the
local stack (``--stack local``: ``PERPWATCH_KAFKA_BOOTSTRAP``/``PERPWATCH_DATABASE_URL``, else
``make up``'s; nothing is stopped):

1. the no-fault run of the real Binance USD-M capture (the reference);
2. the same input with each fault (kill -9 mid-replay then restart, SIGSTOP 20 s, a second
   replica joining then leaving), each checked against the reference: every public topic's
   records and every table's rows equal, no duplicates;
3. with ``--soak-minutes N`` (``make soak``: 30), the simulator with a fault a minute through
   ingest and every service, sampled for RSS, lag, rows/s and dead letters.

Kafka and PostgreSQL outages need servers that may be stopped: ``tests/system/test_faults.py``
asserts them on a private stack. Figures depend on the machine (this one is shared); the plots
are for shapes (flat RSS, lag that drains), not for absolute speed.
"""

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.runtime.paths import binance_capture
from services.runtime.settings import Settings
from tests.integration.helpers import wait_until_ready
from tests.integration.private_stack import running_private_stack
from tests.system.pipeline import Pipeline, Snapshot, drop_databases, isolated
from tests.system.test_faults import wait_mid_stream

from .plots import plot_latency, plot_timeline
from .sampler import Timeline, sample_forever

Fault = Callable[[Pipeline, Timeline], Awaitable[None]]


@dataclass
class Outcome:
    name: str
    seconds: float
    duplicates: dict[str, int]
    differences: dict[str, str]
    sizes: dict[str, int]

    @property
    def holds(self) -> bool:
        return not self.duplicates and not self.differences


async def no_fault(pipeline: Pipeline, timeline: Timeline) -> None:
    return None


def kill_9(service: str) -> Fault:
    async def fault(pipeline: Pipeline, timeline: Timeline) -> None:
        await wait_mid_stream(pipeline, service)
        pipeline.kill(service)
        timeline.mark(f"kill -9 {service}")
        restarted = pipeline.start(service)
        await wait_until_ready(restarted.process, restarted.port, restarted.log, timeout_s=120)
        timeline.mark(f"{service} ready again")

    return fault


async def sigstop_20s(pipeline: Pipeline, timeline: Timeline) -> None:
    await wait_mid_stream(pipeline, "book-builder")
    pipeline.signal("book-builder", signal.SIGSTOP)
    timeline.mark("SIGSTOP book-builder")
    await asyncio.sleep(20)
    pipeline.signal("book-builder", signal.SIGCONT)
    timeline.mark("SIGCONT book-builder")


async def replica_joins_and_leaves(pipeline: Pipeline, timeline: Timeline) -> None:
    await wait_mid_stream(pipeline, "book-builder")
    replica = pipeline.start("book-builder", replica="-2")
    timeline.mark("book-builder-2 starts")
    await wait_until_ready(replica.process, replica.port, replica.log, timeout_s=120)
    await asyncio.sleep(3)
    pipeline.stop("book-builder-2")
    timeline.mark("book-builder-2 leaves")


async def run(
    name: str, base: Settings, admin_url: str, workdir: Path, capture: Path, fault: Fault
) -> tuple[Snapshot, Timeline, Pipeline]:
    print(f"== {name}", flush=True)
    run_dir = workdir / name.replace(" ", "_").replace("/", "_")
    run_dir.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(isolated(base, admin_url), run_dir)
    timeline = Timeline()
    await pipeline.start_all()
    sampling = asyncio.create_task(sample_forever(pipeline, timeline))
    try:
        timeline.mark("replay starts")
        feeding = asyncio.create_task(pipeline.feed(capture))
        await fault(pipeline, timeline)
        await feeding
        timeline.mark("replay done")
        await pipeline.drain()
        timeline.mark("drained")
        await asyncio.sleep(2)  # a last sample after the drain
        snapshot = await pipeline.snapshot()
    finally:
        sampling.cancel()
        pipeline.stop_all()
    return snapshot, timeline, pipeline


async def soak(base: Settings, admin_url: str, workdir: Path, minutes: float) -> Timeline:
    """The simulator (a fault a minute) -> ingest -> every service under test, sampled."""
    run_dir = workdir / "soak"
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = isolated(base, admin_url)
    endpoints = run_dir / "endpoints.json"
    simulator = subprocess.Popen(  # noqa: ASYNC220  (a long-lived child, started once)
        [sys.executable, "-m", "services.cli", "simulate", "--endpoints-out", str(endpoints),
         "--faults-per-minute", "1", "--duration", str(minutes * 60 + 120)],
        stdout=subprocess.DEVNULL, stderr=(run_dir / "simulator.log").open("wb"), start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not endpoints.exists():
            if simulator.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the simulator did not start: see {run_dir / 'simulator.log'}")
            await asyncio.sleep(0.5)
        from schemas.common import ExchangeId
        from services.cli.up import SIMULATED_SYMBOLS
        from services.simulator.server import grids_for

        venues = [ExchangeId(v) for v in json.loads(endpoints.read_text())["venues"]]
        feeds = ";".join(
            f"{v.value}:{','.join(g.native_symbol for g in grids_for([v], SIMULATED_SYMBOLS))}"
            for v in venues
        )
        pipeline = Pipeline(settings, run_dir, services=("book-builder", "market-recorder", "liquidity",
                                                           "analytics", "arbitrage"))  # fmt: skip
        await pipeline.start_all()
        pipeline.env = {"PERPWATCH_INGEST_FEEDS": feeds, "PERPWATCH_INGEST_ENDPOINTS": str(endpoints)}
        ingest = pipeline.start("ingest")
        await wait_until_ready(ingest.process, ingest.port, ingest.log, timeout_s=120)
        timeline = Timeline()
        sampling = asyncio.create_task(sample_forever(pipeline, timeline, every_s=5.0))
        try:
            end = time.monotonic() + minutes * 60
            while time.monotonic() < end:
                pipeline.assert_alive()
                await asyncio.sleep(10)
                print(
                    f"soak: {(minutes * 60 - (end - time.monotonic())) / 60:.1f} of {minutes} min", flush=True
                )
        finally:
            sampling.cancel()
            pipeline.stop_all()
        return timeline
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)


def _rss_growth(timeline: Timeline) -> dict[str, tuple[float, float]]:
    """Per service: RSS (MB) at the end of warm-up (a third of the run) and at the end."""
    found: dict[str, tuple[float, float]] = {}
    if not timeline.samples:
        return found
    last_t = max(s.t for s in timeline.samples)
    for service in sorted({s.service for s in timeline.samples}):
        mine = [s for s in timeline.samples if s.service == service and s.rss_mb]
        warm = [s.rss_mb for s in mine if s.t >= last_t / 3]
        if warm:
            found[service] = (warm[0], warm[-1])
    return found


def write_report(
    out_dir: Path, outcomes: list[Outcome], plots: dict[str, list[str]], soak_timeline: Timeline | None,
    soak_minutes: float, latency: dict[str, float], command: str, servers: str,
) -> Path:  # fmt: skip
    lines = [
        "# perpwatch system report",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}). "
        "The machine was shared with other work while this ran: the figures show shapes "
        "(flat memory, lag that drains), not the pipeline's best speed.",
        "",
        "Input: the real Binance USD-M capture (`btcusdt_20240808.gz`) replayed through the live "
        "normalizer at full speed while the services run. Services: book-builder, market-recorder, "
        "liquidity, analytics (real `perpwatch run` processes).",
        "",
        f"Servers: {servers}.",
        "",
        "## The invariant per fault",
        "",
        "Every public topic's records and every table's rows equal the no-fault run of the same input, "
        "with no duplicates (`tests/system/test_faults.py` asserts the same, and also Kafka stopped "
        "15 s and PostgreSQL stopped 30 s on a private stack).",
        "",
        "| run | invariant | duplicates | differences | seconds |",
        "|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        verdict = "holds" if outcome.holds else "**broken**"
        lines.append(
            f"| {outcome.name} | {verdict} | {outcome.duplicates or 'none'} | "
            f"{outcome.differences or 'none'} | {outcome.seconds:.0f} |"
        )
    reference = outcomes[0].sizes
    lines += ["", "What the no-fault run produced:", "", "| topic or table | records |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in sorted(reference.items())]
    if latency:
        lines += [
            "",
            "## End-to-end latency",
            "",
            "From an `md.book.v1` record on Kafka to its `book.bbo.v1` event on Kafka (both Kafka "
            "timestamps; the book_bbo row is written before the event is published, in the same batch), "
            "no-fault run, replay at full speed, so queueing behind the replay is included: "
            + ", ".join(f"{k} {v:.0f} ms" for k, v in latency.items())
            + ".",
            "",
            "![latency](system/latency.png)",
        ]
    for name, files in plots.items():
        lines += ["", f"## {name}", ""]
        lines += [f"![{Path(f).stem}](system/{Path(f).name})" for f in files]
    if soak_timeline is not None:
        lines += ["", f"## Soak: {soak_minutes:g} minutes on the simulator, a fault a minute", ""]
        growth = _rss_growth(soak_timeline)
        lines += [
            "RSS is read after warm-up (the first third of the run) and at the end; lag is what the "
            "service's consumer group has not committed (read from Kafka every 10 s).",
            "",
            "| service | RSS after warm-up (MB) | RSS at the end (MB) | max lag | lag at the end | rows/s "
            "| dead letters |",
            "|---|---|---|---|---|---|---|",
        ]
        for service, (first, last) in growth.items():
            mine = [x for x in soak_timeline.samples if x.service == service]
            lags = [behind for _, name, behind in soak_timeline.lags if name == service]
            rows = [x.rows for x in mine if x.rows == x.rows]  # NaN != NaN: services without a table
            span = mine[-1].t - mine[0].t if len(mine) > 1 else 0.0
            rate = (rows[-1] - rows[0]) / span if len(rows) > 1 and span > 0 else 0.0
            lines.append(
                f"| {service} | {first:.0f} | {last:.0f} | {max(lags) if lags else '-'} | "
                f"{lags[-1] if lags else '-'} | {rate:.0f} | {mine[-1].dead_letters:.0f} |"
            )
    lines += [
        "",
        "## Reproduce",
        "",
        "`make report` (this report, ~10 min), `make soak` (adds the 30-minute soak), `make system` "
        "(every system test, long ones included).",
        "",
    ]
    path = out_dir / "system.md"
    path.write_text("\n".join(lines))
    return path


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--soak-minutes", type=float, default=0.0)
    parser.add_argument("--faults", default="kill-book-builder,sigstop,replica",
                        help="comma list of: kill-<service>, sigstop, replica; 'none' for the reference only")  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=Path(".state/report"))
    parser.add_argument("--stack", choices=("private", "local"), default="private",
                        help="private: a Kafka and PostgreSQL of the run's own (default); local: the shared stack")  # fmt: skip
    args = parser.parse_args()
    with servers(args.stack, args.workdir) as (kafka, admin_url, described):
        await report(args, kafka, admin_url, described)


@contextmanager
def servers(stack: str, workdir: Path) -> Iterator[tuple[str, str, str]]:
    """Kafka bootstrap, database admin URL and a line for the report, for the run's lifetime."""
    if stack == "private":
        with running_private_stack(workdir / "stack") as private:
            started = (
                "a private Kafka and PostgreSQL started for this run (`deploy/local/stack.sh`, free ports)"
            )
            yield private.kafka_bootstrap, private.database_url, started
        return
    kafka = os.environ.get("PERPWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    admin_url = os.environ.get(
        "PERPWATCH_DATABASE_URL", "postgresql://perpwatch:perpwatch@127.0.0.1:15432/perpwatch"
    )
    yield kafka, admin_url, "the local stack shared with other work (`make up`'s Kafka and PostgreSQL)"


async def report(args: argparse.Namespace, kafka: str, admin_url: str, described: str) -> None:
    base = Settings(kafka_bootstrap=kafka, database_url=admin_url, metrics_port=0, topic_partitions=3,
                    producer_linger_ms=2, sink_max_backoff_s=2.0)  # fmt: skip
    capture = binance_capture()
    if not capture.exists():
        raise SystemExit(f"the Binance capture is missing: {capture} (set PERPWATCH_DATA_DIR)")
    figures = args.out / "system"
    figures.mkdir(parents=True, exist_ok=True)
    faults: dict[str, Fault] = {}
    for name in filter(None, args.faults.split(",")):
        if name.startswith("kill-"):
            faults[f"kill -9 {name[5:]} mid-replay"] = kill_9(name[5:])
        elif name == "sigstop":
            faults["SIGSTOP book-builder 20 s"] = sigstop_20s
        elif name == "replica":
            faults["second book-builder replica joins, then leaves"] = replica_joins_and_leaves
        elif name != "none":
            raise SystemExit(f"unknown fault {name!r}")
    outcomes: list[Outcome] = []
    plots: dict[str, list[str]] = {}
    reference: Snapshot | None = None
    latency: dict[str, float] = {}
    for name, fault in {"no fault (reference)": no_fault, **faults}.items():
        started = time.monotonic()
        snapshot, timeline, pipeline = await run(name, base, admin_url, args.workdir, capture, fault)
        if reference is None:
            reference = snapshot
            latency = await plot_latency(pipeline.settings, figures / "latency.png")
        outcome = Outcome(name, time.monotonic() - started, snapshot.duplicates(),
                          snapshot.differences(reference), snapshot.sizes())  # fmt: skip
        print(json.dumps({"run": name, "invariant": "holds" if outcome.holds else "BROKEN",
                          "duplicates": outcome.duplicates, "differences": outcome.differences}), flush=True)  # fmt: skip
        outcomes.append(outcome)
        plots[name] = plot_timeline(timeline, figures, name)
    soak_timeline = None
    if args.soak_minutes > 0:
        soak_timeline = await soak(base, admin_url, args.workdir, args.soak_minutes)
        plots[f"Soak ({args.soak_minutes:g} min)"] = plot_timeline(soak_timeline, figures, "soak")
    drop_databases(admin_url)
    command = "python -m benchmarks.pipeline " + " ".join(sys.argv[1:])
    path = write_report(
        args.out, outcomes, plots, soak_timeline, args.soak_minutes, latency, command.strip(), described
    )
    print(f"wrote {path}")
    if not all(o.holds for o in outcomes):
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
