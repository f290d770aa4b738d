"""Contract instances built without validation, from values that satisfy the contract already.

Why: on hot paths (normalize, arbitrage), pydantic's validation of an event whose values were
just built and checked costs as much as the work itself. The callers own the proof that their
values meet the contract, and their tests hold the result to the validated one; this module
only assembles the instance the way validation would (fields in declaration order, defaults
filled), so it serializes byte for byte the same.
"""

from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)

_REQUIRED = object()
_fields: dict[type[BaseModel], tuple[tuple[str, Any], ...]] = {}
_new = object.__new__
_set = object.__setattr__


def _field_defaults(cls: type[BaseModel]) -> tuple[tuple[str, Any], ...]:
    fields = _fields.get(cls)
    if fields is None:
        fields = _fields[cls] = tuple(
            (name, _REQUIRED if info.is_required() else info.get_default(call_default_factory=True))
            for name, info in cls.model_fields.items()
        )
    return fields


def build(cls: type[Model], values: dict[str, Any]) -> Model:
    """``cls(**values)`` without validation: every value must already satisfy the contract."""
    state: dict[str, Any] = {}
    for name, default in _field_defaults(cls):
        if name in values:
            state[name] = values[name]
        elif default is _REQUIRED:
            raise TypeError(f"{cls.__name__}: {name} is required")
        else:
            state[name] = default
    instance = _new(cls)
    _set(instance, "__dict__", state)
    _set(instance, "__pydantic_fields_set__", set(values))
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance
