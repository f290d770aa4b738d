"""The matching venue's REST/WebSocket gateway (``perpwatch run gateway``)."""

from services.matching.gateway.app import create_app
from services.matching.gateway.service import Gateway, run_gateway
from services.matching.gateway.settings import GatewaySettings

__all__ = ["Gateway", "GatewaySettings", "create_app", "run_gateway"]
