"""The simulator speaks CoinDCX's protocol: Engine.IO (socket.io v4) framing, pings and timeouts."""

import orjson

from schemas.common import ExchangeId
from services.simulator.dialect import Session
from services.venues.coindcx.dialect import CoindcxDialect
from tests.ingest.test_simulator_dialects import bound
from tests.ingest.test_simulator_model import T0

S = 1_000_000_000


def test_coindcx_speaks_engine_io() -> None:
    _, dialect = bound(ExchangeId.COINDCX)
    assert isinstance(dialect, CoindcxDialect)
    session = Session(1, "/socket.io/?EIO=4&transport=websocket")
    [opening] = dialect.open_session(session, T0)
    assert opening.text.startswith("0{")
    assert orjson.loads(opening.text[1:])["pingInterval"] == 25_000
    join = '42["join",{"channelName":"B-BTC_USDT@trades-futures"}]'
    [refused] = dialect.on_message(session, join, T0)
    assert refused.text.startswith("44")  # an event before the namespace connect
    [ack] = dialect.on_message(session, "40", T0)
    assert ack.text.startswith("40{")
    assert dialect.on_message(session, join, T0) == []  # joins are not acknowledged
    assert session.topics == {"B-BTC_USDT@trades-futures"}
    [ping] = dialect.heartbeat(session, T0 + 25 * S)
    assert ping.text == "2"
    assert dialect.heartbeat(session, T0 + 44 * S) == []  # within the ping timeout
    [closed] = dialect.heartbeat(session, T0 + 46 * S)  # no "3" for 21 s
    assert closed.close_code == 1000
    [version_3] = dialect.open_session(Session(2, "/socket.io/?EIO=3&transport=websocket"), T0)
    assert version_3.close_code == 1002
