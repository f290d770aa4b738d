"""Progress bars for long commands (replay), on stderr so stdout stays scriptable."""

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from schemas.common import ExchangeId
from services.ingest.captures import count_lines
from services.ingest.replay import ReplayStats, replay_capture
from services.runtime.settings import Settings


def replay_with_progress(
    path: Path,
    settings: Settings,
    *,
    exchange: ExchangeId | None,
    speed: float | None,
    fmt: str = "auto",
    instrument_cache: Path | None = None,
    instruments: Sequence[Path] = (),
) -> ReplayStats:
    """Replay with a progress bar; the total is the file's line count (frames plus markers)."""
    import asyncio

    if not path.exists():
        raise SystemExit(f"capture not found: {path}")
    total = count_lines(path)
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]replay[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
        TextColumn("{task.fields[events]} events"),
        TimeRemainingColumn(),
        console=console,
        refresh_per_second=4,
    ) as progress:
        task = progress.add_task(path.name, total=total, events=0)

        def advance(stats: ReplayStats) -> None:
            if stats.frames % 500 == 0 or stats.frames == total:
                progress.update(task, completed=stats.frames, events=sum(stats.events.values()))

        stats = asyncio.run(
            replay_capture(
                path,
                settings,
                exchange=exchange,
                speed=speed,
                on_frame=advance,
                fmt=fmt,
                instrument_cache=instrument_cache,
                instruments=instruments,
            )
        )
        progress.update(task, completed=total, events=sum(stats.events.values()))
    return stats
