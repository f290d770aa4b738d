"""``perpwatch up`` (``make up``): the whole local pipeline on embedded defaults.

Starts Kafka and PostgreSQL (deploy/local/stack.sh), creates the topics, migrates the schema,
starts the services as child processes and feeds them, prints how to look at the data, and on
Ctrl-C stops everything in order. Data sources:

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
from typing import Literal

import orjson
import psycopg
from rich.console import Console

from services.cli.progress import replay_with_progress
from services.db.migrate import migrate
from services.runtime.paths import binance_capture, repo_root
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics

console = Console(stderr=True, highlight=False)

Source = Literal["simulator", "replay", "live"]
# Each child serves its metrics on its own port so they can run side by side.
METRICS_PORTS = {"book-builder": 9101, "ingest": 9102}
SIMULATED_SYMBOLS = ("BTC-USDT-PERP", "ETH-USDT-PERP")


def _stack(command: str) -> None:
    script = repo_root() / "deploy" / "local" / "stack.sh"
    subprocess.run(["bash", str(script), command], check=True)


def _child(args: list[str], settings: Settings, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PERPWATCH_LOG_FORMAT": "console",
        "PERPWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PERPWATCH_DATABASE_URL": settings.database_url,
        **extra_env,
    }
    # A session of its own: the terminal's Ctrl-C reaches only us, and we stop children in order.
    return subprocess.Popen([sys.executable, "-m", "services.cli", *args], env=env, start_new_session=True)


def _start_service(
    name: str, settings: Settings, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    port = METRICS_PORTS[name]
    console.print(f"[bold]service[/bold] {name}: metrics on http://127.0.0.1:{port}/metrics")
    return _child(["run", name], settings, {"PERPWATCH_METRICS_PORT": str(port), **(extra_env or {})})


def _start_simulator(settings: Settings, children: dict[str, subprocess.Popen[bytes]]) -> dict[str, str]:
    """Starts ``perpwatch simulate`` and returns the ingest settings that point at it."""
    from schemas.common import ExchangeId
    from services.simulator.server import grids_for

    endpoints_file = repo_root() / ".state" / "simulator-endpoints.json"
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


def _count_rows(settings: Settings) -> tuple[int, int]:
    with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM book_bbo), (SELECT count(DISTINCT exchange) FROM book_bbo)"
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)


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


def run_local_pipeline(settings: Settings, *, source: Source, speed: float | None, stop_stack: bool) -> int:
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        console.rule(f"perpwatch up ({source})")
        started = time.monotonic()
        _stack("start")
        created = asyncio.run(ensure_topics(settings))
        console.print(f"[green]topics[/green] ready ({len(created)} created)")
        report = migrate(settings.database_url)
        console.print(f"[green]schema[/green] ready ({len(report.applied)} migration(s) applied)")
        children["book-builder"] = _start_service("book-builder", settings)
        if source == "simulator":
            children["ingest"] = _start_service("ingest", settings, _start_simulator(settings, children))
        elif source == "live":
            children["ingest"] = _start_service("ingest", settings)
        console.print(f"stack and services up in {time.monotonic() - started:.1f}s")
        if source == "replay":
            _feed_replay(settings, speed)
        _print_hints(settings)
        _watch(settings, children)
        return 1
    except KeyboardInterrupt:
        console.print("\nstopping...")
        return 0
    finally:
        _stop_children(children)
        if stop_stack:
            _stack("stop")


def _watch(settings: Settings, children: dict[str, subprocess.Popen[bytes]]) -> None:
    """Shows data flowing until Ctrl-C; returns only when a child died."""
    last_rows, last_at = -1, time.monotonic()
    while True:
        for name, child in children.items():
            if child.poll() is not None:
                console.print(f"[red]{name} exited with code {child.returncode}[/red]")
                return
        rows, venues = _count_rows(settings)
        now = time.monotonic()
        if rows != last_rows:
            rate = (rows - last_rows) / (now - last_at) if last_rows >= 0 else 0.0
            console.print(f"book_bbo rows: {rows} from {venues} venue(s) (+{rate:.0f}/s)")
            last_rows, last_at = rows, now
        time.sleep(5)


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    # Feeds first, then the consumers, so the consumers drain what was published.
    order = [n for n in ("simulator", "ingest", "book-builder") if n in children]
    for name in order:
        child = children[name]
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            console.print(f"[red]{name} did not drain in 30s and was killed[/red]")
        else:
            console.print(f"{name} stopped (exit {child.returncode})")
