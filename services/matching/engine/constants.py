"""Integer codes used inside the engine.

Plain module-level ints rather than ``IntEnum``: the matching loop compares these
codes on every fill, and enum member lookups cost several times a global int load.
The ``*_NAMES`` tuples map a code back to its wire spelling.  Each family is numbered
from 0 without gaps, and validation relies on that (``GTC <= tif <= POST_ONLY``); stop
types are the codes ``>= STOP_MARKET``.
"""

from typing import Final

# Accepted client order ids a venue remembers beyond its working orders (about 20 MB at 100k):
# reusing one of them, or the id of any working order, is a duplicate.
CLIENT_ID_WINDOW: Final = 100_000

BUY: Final = 0
SELL: Final = 1
SIDE_NAMES: Final = ("buy", "sell")
BOOK_SIDE_NAMES: Final = ("bid", "ask")

MARKET: Final = 0
LIMIT: Final = 1
STOP_MARKET: Final = 2
STOP_LIMIT: Final = 3
ORDER_TYPE_NAMES: Final = ("market", "limit", "stop_market", "stop_limit")

GTC: Final = 0
IOC: Final = 1
FOK: Final = 2
POST_ONLY: Final = 3
TIF_NAMES: Final = ("GTC", "IOC", "FOK", "POST_ONLY")

STP_NONE: Final = 0
EXPIRE_TAKER: Final = 1
EXPIRE_MAKER: Final = 2
EXPIRE_BOTH: Final = 3
STP_NAMES: Final = ("none", "expire_taker", "expire_maker", "expire_both")

# Prices and quantities are capped so every engine integer fits an IEEE double and
# a signed 64-bit field: snapshots stay JSON-portable and orjson can encode them.
MAX_UNITS: Final = 2**53 - 1
# Fee rates are carried in hundredths of a basis point; 1 bp = 100 units.
FEE_RATE_DENOMINATOR: Final = 1_000_000

# Order statuses (wire strings, used as-is in events).
ACCEPTED: Final = "accepted"
REJECTED: Final = "rejected"
PARTIALLY_FILLED: Final = "partially_filled"
FILLED: Final = "filled"
CANCELLED: Final = "cancelled"
EXPIRED: Final = "expired"
TRIGGERED: Final = "triggered"
AMENDED: Final = "amended"
