"""From an injected market fault to a user's webhook, through the whole pipeline.

``perpwatch up`` runs every service on a private stack with the 13-venue simulator. Once the
liquidity baselines have warmed up, the test injects through the simulator's control endpoint:

- a 60 bps dislocation of OKX's BTC-USDT-PERP, which the arbitrage service must open as a spread
  opportunity, and a user rule on ``arb.opportunities.v1.value_bps`` must turn into an alert;
- a liquidity crunch on Bybit's BTC-USDT-PERP, which the liquidity service must detect, and the
  built-in crunch rule must turn into an alert.

Both alerts must reach a webhook served by the test (through ``alert_outbox`` and the
alert-delivery service), and the run must end with every public topic equal to its table.
"""

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.private_stack import PrivateStack

REPO_ROOT = Path(__file__).resolve().parents[2]
SYMBOL = "BTC-USDT-PERP"
ARB_RULE = {
    "id": "e2e-arb",
    "name": "BTC spread opportunity over 10 bps net",
    "metric": "arb.opportunities.v1.value_bps",
    "condition": ">",
    "threshold": "10",
    "match": {"kind": "spread"},
    "scope": {"symbol": SYMBOL},
    "for": "0s",
    "keep_firing_for": "5s",
    "repeat_interval": "10m",
    "severity": "warning",
    "labels": {},
    "enabled": True,
}


class Received:
    def __init__(self) -> None:
        self.notes: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def matching(self, rule_id: str, exchange: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                n
                for n in self.notes
                if n.get("rule_id") == rule_id
                and n.get("status") == "firing"
                and exchange in n.get("labels", {}).values()
            ]


@pytest.fixture
def webhook() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with received.lock:
                received.notes.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()


def _wait(what: str, check: Any, timeout_s: float, up: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert up.poll() is None, f"perpwatch up exited while waiting for {what}"
        value = check()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _samples(database_url: str, exchange: str) -> int:
    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM liquidity_metrics WHERE exchange = %s AND symbol = %s",
                (exchange, SYMBOL),
            ).fetchone()
    except psycopg.Error:
        return 0  # the schema is not migrated yet
    return int(row[0]) if row else 0


def _inject(control_url: str, **query: str) -> None:
    url = f"{control_url}/faults?" + "&".join(f"{k}={v}" for k, v in query.items())
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10) as answer:
        assert answer.status == 202, answer.read()  # accepted: applied at the next tick


def test_injected_faults_reach_the_webhook_as_alerts(
    private_stack: PrivateStack, webhook: tuple[str, Received], tmp_path: Path
) -> None:
    url, received = webhook
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"rules": [ARB_RULE]}))
    state_dir = Path(private_stack.env["PERPWATCH_STATE_DIR"])
    env = {
        **private_stack.env,
        "PERPWATCH_KAFKA_BOOTSTRAP": private_stack.kafka_bootstrap,
        "PERPWATCH_DATABASE_URL": private_stack.database_url,
        "PERPWATCH_INSTRUMENT_CACHE_DIR": str(tmp_path / "instruments"),
        "PERPWATCH_ALERT_RULES_FILE": str(rules),
        "PERPWATCH_ALERT_WEBHOOKS": f"e2e={url}",
        "PERPWATCH_ALERT_DELIVERY_POLL_S": "0.5",
    }
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--duration", "600", "--no-stop-stack"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            endpoints_file = state_dir / "simulator-endpoints.json"
            _wait("the simulator", endpoints_file.exists, 120, up)
            control_url = json.loads(endpoints_file.read_text())["control_url"]
            # The crunch rule fires only after its warm-up (60 one-second samples).
            _wait(
                "liquidity baselines",
                lambda: _samples(private_stack.database_url, "bybit") >= 80,
                240,
                up,
            )
            _inject(
                control_url, kind="dislocation", venue="okx", symbol=SYMBOL, magnitude="60", duration_s="30"
            )
            _inject(
                control_url,
                kind="liquidity_crunch",
                venue="bybit",
                symbol=SYMBOL,
                magnitude="10",
                duration_s="15",
            )
            arbitrage = _wait("the arbitrage alert", lambda: received.matching("e2e-arb", "okx"), 120, up)
            crunch = _wait(
                "the crunch alert", lambda: received.matching("builtin.liquidity-crunch", "bybit"), 120, up
            )
        finally:
            if up.poll() is None:
                up.send_signal(signal.SIGTERM)
            up.wait(timeout=180)
    output = log_path.read_text()
    print(json.dumps({"arbitrage": arbitrage[0], "crunch": crunch[0]}, indent=1)[:3000])
    # OKX was pushed up: sell there, buy anywhere cheaper.
    assert arbitrage[0]["labels"]["sell.exchange"] == "okx"
    assert arbitrage[0]["labels"]["buy.exchange"] != "okx"
    assert arbitrage[0]["labels"]["symbol"] == SYMBOL
    assert (crunch[0]["labels"]["exchange"], crunch[0]["labels"]["symbol"]) == ("bybit", SYMBOL)
    keys = [n["idempotency_key"] for n in received.notes]
    assert len(keys) == len(set(keys)), "a notification was delivered twice"
    errors = [line for line in output.splitlines() if " ERROR " in line or "Traceback" in line]
    assert errors == [], "\n".join(errors[:20])
    compared = re.findall(r"^\s*(\S+): \d+ records .*\| (.*)$", output, re.M)
    assert compared, output[-3000:]
    assert all(verdict.strip() == "equal" for _, verdict in compared), output[-3000:]
