"""The simulator speaks Deribit's protocol: heartbeats with test requests a client must answer."""

import orjson

from schemas.common import ExchangeId
from services.simulator.dialect import Session
from services.venues.deribit.dialect import DeribitDialect
from tests.ingest.test_simulator_dialects import bound
from tests.ingest.test_simulator_model import T0

S = 1_000_000_000


def test_deribit_drops_a_client_that_ignores_test_requests() -> None:
    _, dialect = bound(ExchangeId.DERIBIT)
    assert isinstance(dialect, DeribitDialect)
    session = Session(1, "/ws/api/v2")
    request = {"jsonrpc": "2.0", "id": 1, "method": "public/set_heartbeat", "params": {"interval": 10}}
    [ok] = dialect.on_message(session, orjson.dumps(request).decode(), T0)
    assert orjson.loads(ok.text)["result"] == "ok"
    assert dialect.heartbeat(session, T0 + 9 * S) == []
    [test_request] = dialect.heartbeat(session, T0 + 10 * S)
    assert orjson.loads(test_request.text)["params"] == {"type": "test_request"}
    test = {"jsonrpc": "2.0", "id": 0, "method": "public/test", "params": {}}
    dialect.on_message(session, orjson.dumps(test).decode(), T0 + 11 * S)  # answered in time
    [again] = dialect.heartbeat(session, T0 + 20 * S)
    assert again.close_code is None
    [dropped] = dialect.heartbeat(session, T0 + 30 * S)  # not answered
    assert (dropped.text, dropped.close_code) == ("", 1000)
    too_short = {**request, "params": {"interval": 5}}
    [error] = dialect.on_message(Session(2, "/"), orjson.dumps(too_short).decode(), T0)
    assert orjson.loads(error.text)["error"]["code"] == -32602
