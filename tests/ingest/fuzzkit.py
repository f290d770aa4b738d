"""What every venue parser test shares: the recorded frames it starts from, JSON-like hypothesis
strategies, mutations of real frames, and the two checks a parser must pass on bad input (a
reasoned rejection; nothing else escapes).
"""

import contextlib
import copy
import gzip
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import strategies as st

from services.ingest.normalizer import FrameRejected


def ccxt_ws_frames(
    shared_data: Path, name: str, *, keep: Callable[[dict[str, Any]], bool] = lambda case: True
) -> dict[str, list[Any]]:
    """Frames received in a ccxt-ws capture (``ccxt-ws/<name>.json``), by ccxt method.

    ``keep`` selects the test cases (e.g. one product type); the test is skipped when the capture
    is absent.
    """
    path = shared_data / "ccxt-ws" / f"{name}.json"
    if not path.exists():
        pytest.skip(f"ccxt-ws capture not found at {path}")
    document = orjson.loads(path.read_bytes())
    return {
        method: [message for case in cases if keep(case) for message in case["messages"]]
        for method, cases in document["methods"].items()
    }


def binance_capture_frames(path: Path) -> dict[str, bytes]:
    """The first frame of each kind in a Binance hftbacktest capture, verbatim.

    Kinds are the stream event types (``e``) and ``snapshot`` for the REST depth snapshot; reading
    stops once four kinds are found. The test is skipped when the capture is absent.
    """
    if not path.exists():
        pytest.skip(f"Binance capture not found at {path}")
    found: dict[str, bytes] = {}
    with gzip.open(path, "rb") as lines:
        for line in lines:
            raw = line.split(b" ", 1)[1].strip()
            kind = "snapshot" if raw.startswith(b'{"lastUpdateId"') else orjson.loads(raw)["data"]["e"]
            found.setdefault(kind, raw)
            if len(found) == 4:
                break
    return found


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
"""Anything a JSON decoder can return (NaN aside), a few levels deep."""

DELETE = object()
"""A mutation value that removes the field instead of replacing it."""


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into ``node`` (lists: their first three items), the root ``()`` included."""
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node[:3]):
            found += paths(child, (*prefix, index))
    return found


def mutated(frame: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``frame`` with the field at ``path`` set to ``value`` (or removed, for ``DELETE``)."""
    if not path:
        return value if value is not DELETE else {}
    clone = copy.deepcopy(frame)
    parent = clone
    for step in path[:-1]:
        parent = parent[step]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return clone


def draw_mutated(
    data: st.DataObject, pool: Sequence[Any], *, wrap: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """A frame of ``pool`` with one to three fields replaced by random JSON or removed.

    A mutation of the root may leave something other than an object: ``wrap`` puts it back into
    one, where the venue's parser looks for its payload.
    """
    frame = data.draw(st.sampled_from(pool))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(frame)))
        frame = mutated(frame, path, data.draw(json_values | st.just(DELETE)))
    return frame if isinstance(frame, dict) else wrap(frame)


def rejection(parse: Callable[..., object], *args: Any) -> FrameRejected:
    """The ``FrameRejected`` that ``parse(*args)`` raises; the test fails on any other outcome."""
    with pytest.raises(FrameRejected) as rejected:
        parse(*args)
    return rejected.value


def only_frame_rejected_escapes(parse: Callable[..., object], *args: Any) -> None:
    """Run ``parse(*args)``: events or a ``FrameRejected`` are fine, any other exception fails the test."""
    with contextlib.suppress(FrameRejected):
        parse(*args)
