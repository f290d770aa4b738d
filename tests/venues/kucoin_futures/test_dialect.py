"""The simulator speaks KuCoin Futures' protocol: a socket needs a token from the bullet endpoint."""

import orjson

from schemas.common import ExchangeId
from services.instruments.catalog import load_snapshot
from services.simulator.dialect import HttpRequest, Session
from services.venues import adapter_for
from services.venues.kucoin_futures.dialect import KucoinFuturesDialect
from tests.ingest.test_simulator_dialects import bound
from tests.ingest.test_simulator_model import T0


def test_kucoin_sockets_need_a_token_from_the_bullet_endpoint() -> None:
    _, dialect = bound(ExchangeId.KUCOIN_FUTURES)
    assert isinstance(dialect, KucoinFuturesDialect)
    [refused] = dialect.open_session(Session(1, "/?token=forged&connectId=x"), T0)
    assert refused.close_code == 1008
    assert orjson.loads(refused.text)["type"] == "error"
    bullet = dialect.rest(HttpRequest("POST", "/api/v1/bullet-public", {}), T0)
    adapter = adapter_for(ExchangeId.KUCOIN_FUTURES, load_snapshot())
    url = adapter.ws_url_from(orjson.loads(bullet.body))  # type: ignore[attr-defined]
    assert adapter.ping_interval_s == 18.0
    [welcome] = dialect.open_session(Session(2, url.split("127.0.0.1:1", 1)[1]), T0)
    assert orjson.loads(welcome.text) == {"id": "perpwatch", "type": "welcome"}
    assert welcome.close_code is None
