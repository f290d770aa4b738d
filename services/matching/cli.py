"""``perpwatch venue``: run the matching engine on a JSONL command file (no Kafka)."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from services.matching.engine import MatchingEngine
from services.matching.runner import run_to_jsonl

app = typer.Typer(
    help="perpwatch's own venue: deterministic matching engine tools.",
    no_args_is_help=True,
)


@app.callback()
def venue() -> None:
    """Matching venue commands."""


@app.command("run")
def run(
    commands: Annotated[
        str,
        typer.Option("--commands", "-c", help="JSONL command file, or '-' for standard input."),
    ],
    state_hash: Annotated[
        bool,
        typer.Option("--state-hash", help="After the run, print the engine state hash to stderr."),
    ] = False,
) -> None:
    """Feed COMMANDS through the engine and print every output event as JSONL."""
    engine = MatchingEngine()
    out = sys.stdout.buffer
    if commands == "-":
        for chunk in run_to_jsonl(sys.stdin.buffer, engine):
            out.write(chunk)
    else:
        path = Path(commands)
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {path}", param_hint="--commands")
        with path.open("rb") as lines:
            for chunk in run_to_jsonl(lines, engine):
                out.write(chunk)
    out.flush()
    if state_hash:
        typer.echo(f"state_hash {engine.state_hash()} seq {engine.seq}", err=True)


if __name__ == "__main__":
    app()
