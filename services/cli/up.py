"""``perpwatch up`` (``make up``): the whole local pipeline on embedded defaults.

Starts Kafka and PostgreSQL (deploy/local/stack.sh), creates the topics, migrates the schema,
starts every service the registry marks ``local`` as a child process, feeds them, prints how to
look at the data, and on Ctrl-C, SIGTERM or SIGHUP (or after ``--duration``) stops everything in
order and prints whether each public topic's events equal its table's rows. Data sources:

- ``simulator`` (default): ``perpwatch simulate`` serves every venue that has a simulator
  dialect on 127.0.0.1, and the real ingestors connect to it: no internet needed;
- ``replay``: a real Binance USD-M capture from ``../shared/data``, through the live normalizer;
- ``live``: the ingestors connect to the real venues (``PERPWATCH_INGEST_FEEDS``).
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import orjson
import psycopg
from rich.console import Console

from services.cli.progress import replay_with_progress
from services.cli.reconcile import reconcile_sync
from services.db.migrate import migrate
from services.registry import SERVICES, ServiceSpec
from services.registry import spec as spec_of
from services.runtime.paths import binance_capture, repo_root, state_dir
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics

console = Console(stderr=True, highlight=False, soft_wrap=True)

Source = Literal["simulator", "replay", "live"]
SIMULATED_SYMBOLS = ("BTC-USDT-PERP", "ETH-USDT-PERP")


def _stack(command: str) -> None:
    script = repo_root() / "deploy" / "local" / "stack.sh"
    subprocess.run(["bash", str(script), command], check=True)


def _child(
    args: list[str], settings: Settings, extra_env: dict[str, str], *, quiet_stdout: bool = False
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PERPWATCH_LOG_FORMAT": "console",
        "PERPWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PERPWATCH_DATABASE_URL": settings.database_url,
        **extra_env,
    }
    # A session of its own: the terminal's Ctrl-C reaches only us, and we stop children in order.
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL if quiet_stdout else None,
    )


class StopRequested(Exception):
    """SIGTERM or SIGHUP reached ``perpwatch up``: stop the children as Ctrl-C does."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise StopRequested(signal.Signals(signum).name)


def _start_service(
    spec: ServiceSpec, settings: Settings, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    port = spec.local_metrics_port
    extra = f"; http://127.0.0.1:{spec.http_port}/ (OpenAPI: /docs)" if spec.http_port else ""
    console.print(f"[bold]service[/bold] {spec.name}: health on http://127.0.0.1:{port}/healthz{extra}")
    return _child(["run", spec.name], settings, {"PERPWATCH_METRICS_PORT": str(port), **(extra_env or {})})


def _endpoints_file() -> Path:
    return state_dir() / "simulator-endpoints.json"


def _start_simulator(settings: Settings, children: dict[str, subprocess.Popen[bytes]]) -> dict[str, str]:
    """Starts ``perpwatch simulate`` and returns the ingest settings that point at it."""
    from schemas.common import ExchangeId
    from services.simulator.server import grids_for

    endpoints_file = _endpoints_file()
    endpoints_file.parent.mkdir(parents=True, exist_ok=True)
    endpoints_file.unlink(missing_ok=True)
    children["simulator"] = _child(
        [
            "simulate",
            "--endpoints-out",
            str(endpoints_file),
            "--faults-per-minute",
            "2",
            "--duration",
            "86400",
        ],
        settings,
        {},
        # The endpoints also go to the file read below; the terminal gets the one-line summary.
        quiet_stdout=True,
    )
    deadline = time.monotonic() + 30
    while not endpoints_file.exists():
        if children["simulator"].poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the simulator did not start (see its output above)")
        time.sleep(0.2)
    endpoints = orjson.loads(endpoints_file.read_bytes())
    venues = [ExchangeId(name) for name in endpoints["venues"]]
    feeds = ";".join(
        f"{venue.value}:{','.join(g.native_symbol for g in grids_for([venue], SIMULATED_SYMBOLS))}"
        for venue in venues
    )
    console.print(
        f"[bold]simulator[/bold] {len(venues)} venues on 127.0.0.1 ({', '.join(v.value for v in venues)}); "
        f"inject faults: curl -X POST '{endpoints['control_url']}/faults?kind=liquidity_crunch'"
    )
    return {"PERPWATCH_INGEST_FEEDS": feeds, "PERPWATCH_INGEST_ENDPOINTS": str(endpoints_file)}


def _backfill_from_simulator(settings: Settings, endpoints_path: str) -> None:
    """The last hours of klines, funding and OI from the simulator's history endpoints, before the
    live stream starts (``PERPWATCH_UP_BACKFILL_HOURS``, default 3; 0 turns it off)."""
    from schemas.common import ExchangeId
    from services.backfill.startup import backfill_recent
    from services.simulator.server import grids_for

    hours = float(os.environ.get("PERPWATCH_UP_BACKFILL_HOURS", "3"))
    if hours <= 0:
        return
    started = time.monotonic()
    venues = orjson.loads(Path(endpoints_path).read_bytes())["venues"]
    targets = {
        ExchangeId(name): [g.native_symbol for g in grids_for([ExchangeId(name)], SIMULATED_SYMBOLS)]
        for name in venues
    }
    urls = {ExchangeId(name): endpoint["rest_url"] for name, endpoint in venues.items()}
    summaries = asyncio.run(backfill_recent(settings.database_url, targets, hours, rest_urls=urls))
    inserted = sum(s.as_json()["inserted"] for s in summaries)
    failed = sum(s.as_json()["errors"] for s in summaries)
    console.print(
        f"[green]backfill[/green] last {hours:g}h from the simulator: {inserted} rows for "
        f"{', '.join(s.exchange for s in summaries) or 'no venue'} in {time.monotonic() - started:.1f}s"
        + (f" [yellow]({failed} failed, see the warnings above)[/yellow]" if failed else "")
    )


WATCHED_TABLES = ("book_bbo", "market_trades", "funding_rates", "open_interest", "liquidations")


def _count_rows(settings: Settings) -> dict[str, int]:
    with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
        counts = {}
        for table in WATCHED_TABLES:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            counts[table] = int(row[0]) if row else 0
        return counts


def _print_hints(settings: Settings) -> None:
    console.print(
        "\n[bold]Look at the data[/bold]\n"
        f"  psql '{settings.database_url}' -c "
        '"SELECT ts, exchange, symbol, bid_price, ask_price FROM book_bbo ORDER BY ts DESC LIMIT 5"\n'
        "  perpwatch tail book.bbo.v1 --from-beginning --max 20\n"
        "  perpwatch tail md.trades.v1\n"
        "  perpwatch topics describe\n"
        "Ctrl-C stops the services and the local stack.\n"
    )


def _feed_replay(settings: Settings, speed: float | None) -> None:
    capture = binance_capture()
    if not capture.exists():
        console.print(
            f"[yellow]No data to replay:[/yellow] {capture} is absent. Put the shared captures "
            "beside the checkout (../shared/data) or set PERPWATCH_DATA_DIR. Services keep running."
        )
        return
    stats = replay_with_progress(capture, settings, exchange=None, speed=speed)
    console.print(
        f"[green]replayed[/green] {stats.frames} frames -> {sum(stats.events.values())} events "
        f"in {stats.seconds:.1f}s; rejected: {dict(stats.rejected) or 'none'}"
    )


def run_local_pipeline(
    settings: Settings,
    *,
    source: Source,
    speed: float | None,
    stop_stack: bool,
    duration_s: float | None = None,
) -> int:
    children: dict[str, subprocess.Popen[bytes]] = {}
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    code = 0
    try:
        console.rule(f"perpwatch up ({source})")
        started = time.monotonic()
        _stack("start")
        created = asyncio.run(ensure_topics(settings))
        console.print(f"[green]topics[/green] ready ({len(created)} created)")
        report = migrate(settings.database_url)
        console.print(f"[green]schema[/green] ready ({len(report.applied)} migration(s) applied)")
        # Consumers first, so they are subscribed before the first event arrives.
        # Under the simulator, every service that calls a venue's REST API (the book-builder's
        # resync snapshots) calls the simulator's: the endpoints file is written before ingest starts.
        venue_env = {"PERPWATCH_INGEST_ENDPOINTS": str(_endpoints_file())} if source == "simulator" else {}
        for spec in SERVICES:
            if spec.local and spec.name != "ingest":
                children[spec.name] = _start_service(spec, settings, venue_env)
        if source == "simulator":
            ingest_env = _start_simulator(settings, children)
            _backfill_from_simulator(settings, ingest_env["PERPWATCH_INGEST_ENDPOINTS"])
            children["ingest"] = _start_service(spec_of("ingest"), settings, ingest_env)
        elif source == "live":
            children["ingest"] = _start_service(spec_of("ingest"), settings)
        console.print(f"stack and services up in {time.monotonic() - started:.1f}s")
        if source == "replay":
            _feed_replay(settings, speed)
        _print_hints(settings)
        if not _watch(settings, children, duration_s):
            code = 1
    except KeyboardInterrupt:
        console.print("\nstopping (Ctrl-C)...")
    except StopRequested as exc:
        console.print(f"\nstopping ({exc})...")
    finally:
        # A second signal while stopping must not leave children behind.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        _stop_children(children)
        if children:
            _print_reconciliation(settings)
        if stop_stack:
            _stack("stop")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _watch(
    settings: Settings, children: dict[str, subprocess.Popen[bytes]], duration_s: float | None
) -> bool:
    """Shows data flowing; returns False when a child died, True when the duration is over."""
    last: dict[str, int] | None = None
    last_at = time.monotonic()
    until = None if duration_s is None else time.monotonic() + duration_s
    while until is None or time.monotonic() < until:
        for name, child in children.items():
            if child.poll() is not None:
                console.print(f"[red]{name} exited with code {child.returncode}[/red]")
                return False
        counts = _count_rows(settings)
        now = time.monotonic()
        if counts != last:
            rate = (counts["book_bbo"] - last["book_bbo"]) / (now - last_at) if last else 0.0
            console.print(
                "rows: "
                + ", ".join(f"{table} {n}" for table, n in counts.items())
                + f" (book_bbo +{rate:.0f}/s)"
            )
            last, last_at = counts, now
        time.sleep(5 if until is None else max(0.0, min(5.0, until - time.monotonic())))
    return True


def _print_reconciliation(settings: Settings) -> None:
    """Topic events against table rows after the services drained: the nothing-lost check."""
    try:
        results = reconcile_sync(settings)
    except Exception as exc:  # the stack may already be gone; this is a report, not a gate
        console.print(f"[yellow]could not compare topics with tables: {type(exc).__name__}: {exc}[/yellow]")
        return
    console.print("[bold]topics against tables[/bold]")
    for result in results:
        console.print(("  [green]" if result.equal else "  [red]") + result.line() + "[/]")


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    # The feed first (ingest, then the simulator it reads, so it sees no venue vanish), then
    # the consumers, so they drain what was published.
    order: list[str] = [n for n in ("ingest", "simulator") if n in children]
    order += [n for n in children if n not in order]
    for name in order:
        child = children[name]
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            console.print(f"[red]{name} did not drain in 30s and was killed[/red]")
        else:
            console.print(f"{name} stopped (exit {child.returncode})")
