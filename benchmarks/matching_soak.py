"""Memory soak of the matching engine (``python benchmarks/matching_soak.py``).

Drives one ``MatchingEngine`` with ``--commands`` mixed commands (default 5,000,000) of the
exchange-core-style mix of ``benchmarks/matching_core.py`` (50% GTC limits, 10% IOC, 30%
cancels, 10% amends, about 1,000 resting orders, every client order id new), generated on the
fly from the engine's own state, so no command list is held in memory. Every ``--every``
commands it prints the process's resident memory (``/proc/self/statm``), the engine's
remembered client ids and resting orders.

Then the same load, ``--compare`` commands of it (default 1,000,000), through an engine that
remembers every id ever accepted (``client_id_window`` larger than the run: the engine before
the window), to show the growth the window removes. Both in this process; resident memory is
the OS's figure, so the second run starts from the first one's heap (compare the slopes).

Verdict: the growth of resident memory between the end of warm-up (``--warmup``, default
1,000,000 commands: the id window is full long before) and the end, in MB, and per million
commands; flat means under 1 MB per million.
"""

import argparse
import gc
import os
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matching_core import _LiveSet, _track, mixed_commands, symbol_spec

from services.matching.engine import AddSymbol, MatchingEngine
from services.matching.engine.constants import CLIENT_ID_WINDOW

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 1e6


def soak(count: int, every: int, window: int, seed: int, label: str) -> list[tuple[int, float]]:
    engine = MatchingEngine(client_id_window=window)
    engine.process(AddSymbol(symbol_spec()))
    live = _LiveSet()
    rng = random.Random(seed)
    samples: list[tuple[int, float]] = []
    started = time.perf_counter()
    for done, command in enumerate(mixed_commands(engine, live, rng), start=1):
        _track(engine.process(command), live)
        if done % every == 0:
            gc.collect()
            samples.append((done, rss_mb()))
            ids = len(engine.snapshot()["used_client_order_ids"]) if done == count else None  # type: ignore[arg-type]
            print(
                f"  [{label}] {done:>10,} commands  rss {samples[-1][1]:8.1f} MB  resting {len(live.keys):>6,}"
                f"  {done / (time.perf_counter() - started):>9,.0f} commands/s"
                + (f"  ids remembered {ids:,}" if ids is not None else ""),
                flush=True,
            )
        if done >= count:
            return samples
    return samples


def growth(samples: list[tuple[int, float]], warmup: int) -> tuple[float, float]:
    after = [(n, mb) for n, mb in samples if n >= warmup]
    if len(after) < 2:
        return 0.0, 0.0
    (n0, mb0), (n1, mb1) = after[0], after[-1]
    return mb1 - mb0, (mb1 - mb0) / ((n1 - n0) / 1e6)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=5_000_000)
    parser.add_argument("--every", type=int, default=250_000, help="Commands between memory samples.")
    parser.add_argument("--warmup", type=int, default=1_000_000, help="Commands before growth is measured.")
    parser.add_argument(
        "--compare", type=int, default=1_000_000, help="Commands of the unbounded run (0: none)."
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}; client id window {CLIENT_ID_WINDOW:,}; load average {os.getloadavg()}"
    )
    bounded = soak(args.commands, args.every, CLIENT_ID_WINDOW, args.seed, "window")
    mb, per_million = growth(bounded, args.warmup)
    print(
        f"window {CLIENT_ID_WINDOW:,}: rss {bounded[-1][1]:.1f} MB after {args.commands:,} commands; "
        f"growth after warm-up {mb:+.1f} MB ({per_million:+.2f} MB per million commands)"
    )
    if args.compare:
        unbounded = soak(args.compare, args.every, 10**12, args.seed, "every id")
        first, last = unbounded[0], unbounded[-1]
        slope = (last[1] - first[1]) / ((last[0] - first[0]) / 1e6) if last[0] > first[0] else 0.0
        print(
            f"every id remembered: {slope:+.1f} MB per million commands "
            f"(would be about {slope * args.commands / 1e6:+.0f} MB over {args.commands:,}); "
            f"ratio of slopes {per_million / slope if slope else 0:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
