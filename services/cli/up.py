"""``perpwatch up`` (``make up``): the whole local pipeline on embedded defaults.

Starts Kafka and PostgreSQL (deploy/local/stack.sh), creates the topics, migrates the schema,
starts the services as child processes, feeds them a replay of a real Binance capture with a
progress bar, prints how to look at the data, and on Ctrl-C stops everything in order.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time

import psycopg
from rich.console import Console

from schemas.common import ExchangeId
from services.cli.progress import replay_with_progress
from services.db.migrate import migrate
from services.runtime.paths import binance_capture, repo_root
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics

console = Console(stderr=True, highlight=False)

# Each child serves its metrics on its own port so they can run side by side.
LOCAL_SERVICES: dict[str, int] = {"book-builder": 9101}


def _stack(command: str) -> None:
    script = repo_root() / "deploy" / "local" / "stack.sh"
    subprocess.run(["bash", str(script), command], check=True)


def _start_service(name: str, port: int, settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PERPWATCH_METRICS_PORT": str(port),
        "PERPWATCH_LOG_FORMAT": "console",
        "PERPWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PERPWATCH_DATABASE_URL": settings.database_url,
    }
    console.print(f"[bold]service[/bold] {name}: metrics on http://127.0.0.1:{port}/metrics")
    # A session of its own: the terminal's Ctrl-C reaches only us, and we stop children in order.
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "run", name], env=env, start_new_session=True
    )


def _count_rows(settings: Settings) -> int:
    with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM book_bbo").fetchone()
        return int(row[0]) if row else 0


def _print_hints(settings: Settings) -> None:
    console.print(
        "\n[bold]Look at the data[/bold]\n"
        f"  psql '{settings.database_url}' -c "
        '"SELECT ts, symbol, bid_price, ask_price FROM book_bbo ORDER BY ts DESC LIMIT 5"\n'
        "  perpwatch tail book.bbo.v1 --from-beginning --max 20\n"
        "  perpwatch tail md.trades.v1\n"
        "  perpwatch topics describe\n"
        "Ctrl-C stops the services and the local stack.\n"
    )


def run_local_pipeline(settings: Settings, *, speed: float | None, stop_stack: bool) -> int:
    children: dict[str, subprocess.Popen[bytes]] = {}
    interrupted = False
    try:
        console.rule("perpwatch up")
        started = time.monotonic()
        _stack("start")
        created = asyncio.run(ensure_topics(settings))
        console.print(f"[green]topics[/green] ready ({len(created)} created)")
        report = migrate(settings.database_url)
        console.print(f"[green]schema[/green] ready ({len(report.applied)} migration(s) applied)")
        for name, port in LOCAL_SERVICES.items():
            children[name] = _start_service(name, port, settings)
        console.print(f"stack and services up in {time.monotonic() - started:.1f}s")
        capture = binance_capture()
        if capture.exists():
            stats = replay_with_progress(capture, settings, exchange=ExchangeId.BINANCE_USDM, speed=speed)
            console.print(
                f"[green]replayed[/green] {stats.frames} frames -> {sum(stats.events.values())} events "
                f"in {stats.seconds:.1f}s; rejected: {dict(stats.rejected) or 'none'}"
            )
        else:
            console.print(
                f"[yellow]No data to replay:[/yellow] {capture} is absent. Put the shared captures "
                "beside the checkout (../shared/data) or set PERPWATCH_DATA_DIR. Services keep running."
            )
        _print_hints(settings)
        last = -1
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    console.print(f"[red]{name} exited with code {child.returncode}[/red]")
                    return 1
            rows = _count_rows(settings)
            if rows != last:
                console.print(f"book_bbo rows: {rows}")
                last = rows
            time.sleep(2)
    except KeyboardInterrupt:
        interrupted = True
        console.print("\nstopping...")
        return 0
    finally:
        _stop_children(children)
        if stop_stack and (interrupted or children):
            _stack("stop")


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for name, child in children.items():
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            console.print(f"[red]{name} did not drain in 30s and was killed[/red]")
        else:
            console.print(f"{name} stopped (exit {child.returncode})")
