"""Bad records for a topic, built from its contract example: each kind is certainly invalid.

Kinds (the issue's list): random bytes, truncated JSON, wrong types, huge values, NaN and
Infinity, unknown enum values, missing keys and oversized payloads. Deterministic for a seed.
"""

import random
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from pydantic import BaseModel

from schemas.examples import EXAMPLES

KINDS = (
    "random_bytes",
    "truncated_json",
    "wrong_type",
    "huge_value",
    "nan_infinity",
    "unknown_enum",
    "missing_key",
    "oversized",
)
OVERSIZED_BYTES = 2 * 1024 * 1024


def example(topic: str) -> tuple[BaseModel, dict[str, Any]]:
    model = EXAMPLES[topic]
    return model, orjson.loads(model.model_dump_json())


def _fields_of(model: BaseModel, document: dict[str, Any], wanted: type) -> list[str]:
    return [name for name in document if isinstance(getattr(model, name, None), wanted)]


def _required(model: BaseModel, document: dict[str, Any]) -> list[str]:
    fields = type(model).model_fields
    return [name for name in document if name in fields and fields[name].is_required()]


def bad_record(topic: str, kind: str, rng: random.Random) -> bytes:
    model, document = example(topic)
    if kind == "random_bytes":
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))) + b"\xff"
    if kind == "truncated_json":
        raw = model.model_dump_json().encode()
        return raw[: rng.randint(1, len(raw) - 2)]
    if kind == "wrong_type":
        name = rng.choice(_required(model, document))
        document[name] = {"wrong": [True, None]}
        return orjson.dumps(document)
    if kind == "huge_value":
        decimals = _fields_of(model, document, Decimal)
        if decimals:
            document[rng.choice(decimals)] = rng.choice(["1e999999", "1e400", "-1e400", "1" + "0" * 60])
            return orjson.dumps(document)
        return b"[" * 5000 + b"]" * 5000  # nesting no JSON parser here accepts
    if kind == "nan_infinity":
        decimals = _fields_of(model, document, Decimal) + _fields_of(model, document, float)
        if decimals and rng.random() < 0.5:
            document[rng.choice(decimals)] = rng.choice(["NaN", "Infinity", "-Infinity", "sNaN"])
            return orjson.dumps(document)
        name = rng.choice(_required(model, document))
        text = orjson.dumps({**document, name: 0}).decode()
        return text.replace(
            f'"{name}":0', f'"{name}":{rng.choice(["NaN", "Infinity", "-Infinity"])}'
        ).encode()
    if kind == "unknown_enum":
        enums = _fields_of(model, document, Enum)
        if enums:
            document[rng.choice(enums)] = "not-a-member"
        else:
            document["type" if "type" in document else "kind"] = "not-a-member"
            document["unexpected_field"] = 1  # also refused when no field is an enum
        return orjson.dumps(document)
    if kind == "missing_key":
        del document[rng.choice(_required(model, document))]
        return orjson.dumps(document)
    if kind == "oversized":
        document["padding"] = "x" * OVERSIZED_BYTES  # an unknown field: refused, and far too large
        return orjson.dumps(document)
    raise ValueError(kind)


def good_record(topic: str) -> tuple[bytes, bytes | None]:
    model, _ = example(topic)
    key = getattr(model, "key", None)
    return model.model_dump_json().encode(), key.encode() if isinstance(key, str) else None
