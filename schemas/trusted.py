"""Contract instances built without validation, from values that satisfy the contract already.

Why: on hot paths (normalize, arbitrage), pydantic's validation of an event whose values were
just built and checked costs as much as the work itself. The callers own the proof that their
values meet the contract, and their tests hold the result to the validated one; this module
only assembles the instance the way validation would (fields in declaration order, defaults
filled), so it serializes byte for byte the same.
"""

from collections.abc import Set
from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)

_REQUIRED = object()
_templates: dict[type[BaseModel], tuple[dict[str, Any], frozenset[str]]] = {}
_new = object.__new__
# The slots every pydantic model has, set through their descriptors (cheaper than object.__setattr__).
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _template(cls: type[BaseModel]) -> tuple[dict[str, Any], frozenset[str]]:
    """Every field in declaration order with its default (``_REQUIRED`` if none), and the required names."""
    template = _templates.get(cls)
    if template is None:
        defaults = {
            name: _REQUIRED if info.is_required() else info.get_default(call_default_factory=True)
            for name, info in cls.model_fields.items()
        }
        required = frozenset(name for name, default in defaults.items() if default is _REQUIRED)
        template = _templates[cls] = (defaults, required)
    return template


def build(cls: type[Model], values: dict[str, Any]) -> Model:
    """``cls(**values)`` without validation: every value must already satisfy the contract."""
    defaults, required = _templates.get(cls) or _template(cls)
    state = defaults.copy()  # keeps the declaration order; update overwrites in place
    state.update(values)
    fields_set = set(values)
    if len(state) != len(defaults) or not fields_set >= required:
        state = _state_of_odd_values(cls, defaults, values)
    return _instance(cls, state, fields_set)


def assemble(cls: type[Model], state: dict[str, Any], fields_set: Set[str]) -> Model:
    """An instance from its whole state, unvalidated: ``state`` holds every field of ``cls`` in
    declaration order (defaults too), ``fields_set`` the names the caller gave (what validation
    would list in ``model_fields_set``). For the hottest parsers, which write the state out and
    so skip ``build``'s merge with the defaults; their tests hold the result to the validated one.
    """
    return _instance(cls, state, set(fields_set))


def _instance(cls: type[Model], state: dict[str, Any], fields_set: set[str]) -> Model:
    instance = _new(cls)
    _set_dict(instance, state)
    _set_fields_set(instance, fields_set)
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


def _state_of_odd_values(
    cls: type[BaseModel], defaults: dict[str, Any], values: dict[str, Any]
) -> dict[str, Any]:
    """Values with a required field missing (an error) or names that are no field (left out)."""
    state: dict[str, Any] = {}
    for name, default in defaults.items():
        if name in values:
            state[name] = values[name]
        elif default is _REQUIRED:
            raise TypeError(f"{cls.__name__}: {name} is required")
        else:
            state[name] = default
    return state
