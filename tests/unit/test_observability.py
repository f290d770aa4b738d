"""/metrics, /healthz and /readyz on a real socket."""

import asyncio
import json

from services.runtime.observability import Health, ObservabilityServer


async def get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    status = int(response.split(" ", 2)[1])
    return status, response.split("\r\n\r\n", 1)[1]


async def test_endpoints_report_health_readiness_and_metrics() -> None:
    health = Health()
    server = ObservabilityServer(health, port=0)
    await server.start()
    try:
        status, body = await get(server.port, "/healthz")
        assert status == 200
        assert json.loads(body)["status"] == "degraded"
        status, body = await get(server.port, "/readyz")
        assert status == 503
        assert "starting" in json.loads(body)["not_ready"]
        health.set_ready("starting", True)
        health.set_ready("database", False, "unreachable")
        status, body = await get(server.port, "/readyz")
        assert status == 503
        report = json.loads(body)
        assert report["status"] == "degraded"
        assert report["reason"] == "database: unreachable"
        health.set_ready("database", True)
        health.saw_input("md.book.v1")
        health.lag["md.book.v1"] = 7
        health.components["sink"] = "connected"
        status, body = await get(server.port, "/readyz")
        assert status == 200
        report = json.loads(body)
        assert report["status"] == "healthy"
        assert report["inputs"]["md.book.v1"]["consumer_lag"] == 7
        assert report["inputs"]["md.book.v1"]["last_message_age_s"] is not None
        assert report["components"] == {"sink": "connected"}
        assert report["uptime_s"] >= 0
        status, body = await get(server.port, "/metrics")
        assert status == 200
        assert "python_info" in body
        assert (await get(server.port, "/nope"))[0] == 404
    finally:
        await server.stop()
