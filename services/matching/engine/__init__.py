"""Pure, deterministic matching core: no I/O, no wall clock, integers only.

Drive it with :meth:`MatchingEngine.process`; convert JSON with :mod:`.wire`.
"""

from .commands import AddSymbol, AmendOrder, CancelOrder, Command, InvalidCommand, SubmitOrder
from .engine import MatchingEngine
from .events import Event
from .symbols import SymbolSpec
from .wire import decode_command, encode_event

__all__ = [
    "AddSymbol",
    "AmendOrder",
    "CancelOrder",
    "Command",
    "Event",
    "InvalidCommand",
    "MatchingEngine",
    "SubmitOrder",
    "SymbolSpec",
    "decode_command",
    "encode_event",
]
