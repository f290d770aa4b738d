"""What one client of a simulated venue receives, without sockets: deterministic wire frames.

For benchmarks and tests that need a venue's frames where no real capture fits: the client's
subscription frames go to the venue's dialect (its acks and subscription snapshots are received
first), then the market model ticks ``steps`` times and every frame rendered on one of the
client's topics is received, as ``server.Simulator`` sends it (an update the model suppresses as
a sequence gap is not sent), with the venue's heartbeats after each tick. REST answers come from
the same dialect. The same arguments give the same frames, byte for byte.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.common import ExchangeId
from services.ingest.venue import RestRequest
from services.simulator.dialect import Dialect, Endpoints, HttpReply, HttpRequest, Session
from services.simulator.model import BookChange, MarketModel, ModelConfig, TransportFault
from services.simulator.server import DEFAULT_SYMBOLS, grids_for
from services.venues import dialect_for

START_NS = 1_700_000_000_000_000_000
"""Model time of the subscription (any fixed time: frames carry it)."""


@dataclass
class SimulatedVenue:
    model: MarketModel
    dialect: Dialect

    @classmethod
    def of(
        cls,
        venue: ExchangeId,
        *,
        symbols: tuple[str, ...] = DEFAULT_SYMBOLS,
        seed: int = 0,
        config: ModelConfig | None = None,
    ) -> "SimulatedVenue":
        model = MarketModel(grids_for([venue], symbols), seed=seed, config=config)
        dialect = dialect_for(venue)
        dialect.bind(model, Endpoints("ws://127.0.0.1:1/ws", "http://127.0.0.1:2"))
        return cls(model, dialect)

    def rest(self, request: RestRequest) -> HttpReply:
        """The venue's answer to a REST call, at the subscription's time."""
        return self.dialect.rest(HttpRequest(request.method, request.path, dict(request.params)), START_NS)

    def subscriber_frames(self, subscribe: Sequence[str], *, steps: int) -> list[str]:
        """The text frames a client receives after sending ``subscribe``, in order. Advances the model."""
        dialect = self.dialect
        session = Session(1, "/")
        received = [frame.text for frame in dialect.open_session(session, START_NS) if frame.text]
        for text in subscribe:
            received.extend(f.text for f in dialect.on_message(session, text, START_NS) if f.text)
        step_ns = round(self.model.config.tick_s * 1e9)
        for n in range(1, steps + 1):
            now_ns = START_NS + n * step_ns
            for event in self.model.step(now_ns):
                if isinstance(event, TransportFault) or (isinstance(event, BookChange) and event.suppressed):
                    continue
                received.extend(f.text for f in dialect.render(event) if f.topic in session.topics)
            received.extend(f.text for f in dialect.heartbeat(session, now_ns) if f.text)
        return received
