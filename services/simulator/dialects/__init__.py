"""Venue dialects of the simulator, discovered like the venue modules: every module here that
defines ``DIALECT`` (a class) speaks for ``DIALECT.exchange``."""

import importlib
import pkgutil

from schemas.common import ExchangeId
from services.simulator.dialects.base import Dialect


def _discover() -> dict[ExchangeId, type]:
    found: dict[ExchangeId, type] = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        dialect_class = getattr(module, "DIALECT", None)
        if dialect_class is not None:
            found[dialect_class.exchange] = dialect_class
    return found


_DIALECTS = _discover()


def dialect_for(exchange: ExchangeId) -> Dialect:
    try:
        dialect: Dialect = _DIALECTS[exchange]()
    except KeyError:
        raise NotImplementedError(f"the simulator has no dialect for {exchange.value} yet") from None
    return dialect


def available_dialects() -> list[ExchangeId]:
    return sorted(_DIALECTS, key=lambda e: e.value)
