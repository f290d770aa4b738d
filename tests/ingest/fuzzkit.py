"""What every venue parser test shares: the recorded frames it starts from, JSON-like hypothesis
strategies, mutations of real frames, and the two checks a parser must pass on bad input (a
reasoned rejection; nothing else escapes).
"""

import contextlib
import copy
import gzip
import random
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas.market_data import Trade
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


HOSTILE_VALUES: tuple[Any, ...] = (
    None, True, "", "NaN", "Infinity", "1e400", "-1", -1, 0, 1e308, "x" * 200, [], {}, {"a": [1]}, "\u0000", DELETE,
)  # fmt: skip
"""Values a mutation puts in place of a field, for mutations drawn without hypothesis."""


def mutate_randomly(frame: Any, rng: random.Random) -> Any:
    """``frame`` with one to three fields replaced by a hostile value or removed (deterministic for ``rng``)."""
    for _ in range(rng.randint(1, 3)):
        frame = mutated(frame, rng.choice(paths(frame)), rng.choice(HOSTILE_VALUES))
    return frame


def fuzz_texts(frames: Sequence[bytes], count: int, seed: int) -> list[str]:
    """``count`` fuzzed frames as a venue would send them (text): mostly field mutations of
    ``frames``, some cut short, some not JSON at all. The same for a seed."""
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(count):
        raw = rng.choice(frames)
        roll = rng.random()
        if roll < 0.1:
            texts.append(raw[: rng.randint(1, len(raw) - 1)].decode("utf-8", "ignore"))
        elif roll < 0.15:
            texts.append("".join(chr(rng.randint(32, 0x2FF)) for _ in range(rng.randint(1, 80))))
        else:
            texts.append(orjson.dumps(mutate_randomly(orjson.loads(raw), rng)).decode())
    return texts


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
    """Run ``parse(*args)``: a ``FrameRejected``, or events that each satisfy their topic's
    contract (parsers build events unvalidated, ``schemas.trusted``); anything else fails the test."""
    try:
        events = parse(*args)
    except FrameRejected:
        return
    for event in events or ():  # type: ignore[attr-defined]
        assert isinstance(event, BaseModel), event
        type(event).model_validate(event.model_dump())  # raises on a contract violation


HOSTILE_PRICES = ("NaN", "Infinity", "-1", "0", "1e400", "abc", "", None)
"""What a price field of a well-formed frame may be set to by a broken or hostile venue: each must
end in a rejection with a reason, never in an event (its price would be published) or a crash."""
PRICE_REJECTIONS = frozenset({"malformed", "out_of_range"})


def first_trade_frame(normalize: Callable[[Any], object], pool: Sequence[Any]) -> tuple[Any, Trade]:
    """The first frame of ``pool`` that ``normalize`` turns into a trade, and that trade."""
    for frame in pool:
        with contextlib.suppress(FrameRejected):
            events = normalize(copy.deepcopy(frame))
            trades = [e for e in events if isinstance(e, Trade)]  # type: ignore[attr-defined]
            if trades:
                return frame, trades[0]
    raise AssertionError("no frame of the pool is a trade")


def price_path(frame: Any, price: Any) -> tuple[Any, ...]:
    """Where ``price`` (a Decimal) is written in ``frame``: the first leaf holding that number."""
    for path in paths(frame):
        leaf = frame
        for step in path:
            leaf = leaf[step]
        if isinstance(leaf, str | int | float) and not isinstance(leaf, bool):
            with contextlib.suppress(ArithmeticError, ValueError):
                if path and Decimal(str(leaf)) == price:
                    return path
    raise AssertionError(f"price {price} not found in {frame!r}")


def assert_hostile_prices_rejected(
    normalize: Callable[[Any], object], pool: Sequence[Any], *, path: tuple[Any, ...] | None = None
) -> dict[str, str]:
    """A valid-looking mutation: a real trade frame with its price set to each ``HOSTILE_PRICES``
    must be rejected as ``malformed`` or ``out_of_range``. Returns {value: error type}."""
    frame, trade = first_trade_frame(normalize, pool)
    where = path if path is not None else price_path(frame, trade.price)
    reasons: dict[str, str] = {}
    for value in HOSTILE_PRICES:
        reasons[repr(value)] = rejection(normalize, mutated(frame, where, value)).error_type
    assert set(reasons.values()) <= PRICE_REJECTIONS, reasons
    return reasons
